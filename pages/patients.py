"""Patients: the clinic's patient record - details, visits on a timeline, trends against norms with changes
beyond the MDC flagged, two visits side by side, edits and deletions, and a report for the chart."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.history import patient_history
from core.report import patient_report_html
from core.storage.records import get_patient, patient_overview
from pages.parts.common import PATIENT_KEY, database, page_header, report_errors
from pages.parts.record_details import details_section, show_flash
from pages.parts.record_history import compare_section, history_section
from pages.parts.record_visits import visits_section

page_header("Patients")
show_flash()
db = database()
overview = patient_overview(db)
if not overview:
    st.info("No patients yet. Create one in the sidebar.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                "code": p.code,
                "birth year": p.birth_year,
                "sex": p.sex,
                "height (cm)": p.height_cm,
                "visits": p.visits,
                "analyses": p.analyses,
                "last visit": p.last_visit,
            }
            for p in overview
        ]
    ),
    hide_index=True,
    width="stretch",
)

codes = {p.id: p.code for p in overview}
current = st.session_state.get(PATIENT_KEY)
patient_id = st.selectbox(
    "Show patient",
    list(codes),
    index=list(codes).index(current) if current in codes else 0,
    format_func=codes.get,
)
patient = get_patient(db, patient_id)
history = report_errors(lambda: patient_history(db, patient_id), "Reading the patient's history")
if patient is None or history is None:
    st.stop()

title, export = st.columns([3, 1])
title.subheader(f"Patient {patient.code}")
export.download_button(
    "Export report (HTML)",
    lambda: patient_report_html(db, patient_id),
    f"movescope-{patient.code}.html",
    "text/html",
    on_click="ignore",
    help="One self-contained file with the visits, flags and plots, for the patient's chart",
)

record, trends, compare, visits = st.tabs(["Record", "History", "Compare visits", "Visits and analyses"])
with record:
    details_section(patient)
with trends:
    history_section(history)
with compare:
    compare_section(history)
with visits:
    visits_section(patient_id)
