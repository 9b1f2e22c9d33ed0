"""Patients: the clinic's patients, each one's visits and the analyses made at them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.storage.records import add_visit, analyses_of_patient, get_analysis, media_path, patient_overview
from core.video import BROWSER_VIDEO_MIME
from pages.common import PATIENT_KEY, database, page_header, report_errors

page_header("Patients")
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
st.subheader(f"Patient {codes[patient_id]}")

with st.expander("Add a visit"), st.form("add-visit", clear_on_submit=True):
    when = st.date_input("Date", value=date.today())
    label = st.text_input("Label", placeholder="e.g. 3-month follow-up")
    if st.form_submit_button("Add visit") and report_errors(
        lambda: add_visit(db, patient_id, when, label), "Adding the visit"
    ):
        st.success("Visit added.")

analyses = analyses_of_patient(db, patient_id)
if not analyses:
    st.info("No analyses saved for this patient yet.")
    st.stop()
st.dataframe(
    pd.DataFrame(
        [
            {
                "id": a.id,
                "visit": f"{a.visit_date:%Y-%m-%d} {a.visit_label or ''}".strip(),
                "kind": a.kind,
                "trial": a.trial,
                "video": a.input_name,
                "patient track": a.patient_track_id,
                "saved": a.created_at,
                **a.results,
            }
            for a in analyses
        ]
    ),
    hide_index=True,
    width="stretch",
)

chosen = st.selectbox("Open analysis", [a.id for a in analyses], index=len(analyses) - 1)
analysis = get_analysis(db, chosen)
if analysis is not None:
    left, right = st.columns([3, 2])
    video = media_path(analysis.annotated_path)
    with left:
        if video is not None and video.is_file():
            st.video(str(video), format=BROWSER_VIDEO_MIME)
        else:
            st.caption("The annotated video of this analysis is not stored on this server.")
    with right:
        patient_doc = analysis.document.get("patient", {})
        st.write(
            f"**Patient track:** {analysis.patient_track_id}"
            + (" (chosen by hand)" if analysis.selection_manual else "")
        )
        st.write(patient_doc.get("reason", ""))
        st.caption(f"Models: {', '.join(f'{k}: {v}' for k, v in analysis.model_versions.items())}")
