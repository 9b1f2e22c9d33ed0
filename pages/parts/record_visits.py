"""The patient record's visits and analyses: add, edit, move and delete them (deleting asks first)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.storage.records import (
    add_visit,
    analyses_of_patient,
    delete_analysis,
    delete_visit,
    get_analysis,
    media_path,
    update_analysis,
    update_visit,
    visit_name,
    visits_of,
)
from core.video import BROWSER_VIDEO_MIME
from pages.parts.common import database, report_errors
from pages.parts.record_details import flash


def visits_section(patient_id: int) -> None:
    db = database()
    with st.expander("Add a visit"), st.form("add-visit", clear_on_submit=True):
        when = st.date_input("Date", value=date.today())
        label = st.text_input("Label", placeholder="e.g. 3-month follow-up")
        if st.form_submit_button("Add visit") and report_errors(
            lambda: add_visit(db, patient_id, when, label), "Adding the visit"
        ):
            flash("Visit added.")
    visits = visits_of(db, patient_id)
    if visits:
        visit_editor(visits)
    analyses = analyses_of_patient(db, patient_id)
    if not analyses:
        st.info("No analyses saved for this patient yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": a.id,
                    "visit": visit_name(a.visit_date, a.visit_label),
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
    analysis_view(chosen, {v.id: visit_name(v.visit_date, v.label) for v in visits})


def visit_editor(visits) -> None:
    db = database()
    names = {v.id: visit_name(v.visit_date, v.label) for v in visits}
    with st.expander("Edit or delete a visit"):
        visit_id = st.selectbox("Visit", list(names), format_func=names.get, key="edit-visit-choice")
        visit = next(v for v in visits if v.id == visit_id)
        with st.form(f"edit-visit-{visit.id}"):
            when = st.date_input("Date", value=visit.visit_date)
            label = st.text_input("Label", value=visit.label or "")
            notes = st.text_area("Notes", value=visit.notes or "")
            if st.form_submit_button("Save visit") and report_errors(
                lambda: update_visit(db, visit.id, visit_date=when, label=label, notes=notes),
                "Saving the visit",
            ):
                flash("Visit saved.")
        sure = st.checkbox(
            f"Yes, delete the visit {names[visit_id]} with all its analyses", key=f"sure-visit-{visit_id}"
        )
        if st.button("Delete visit", disabled=not sure, key=f"delete-visit-{visit_id}"):
            deleted = report_errors(lambda: delete_visit(db, visit_id), "Deleting the visit")
            if deleted is not None:
                flash(deleted.summary())


def analysis_view(analysis_id: int, visit_names: dict[int, str]) -> None:
    db = database()
    analysis = get_analysis(db, analysis_id)
    if analysis is None:
        return
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
        with st.expander("Move, renumber or delete this analysis"):
            with st.form(f"move-analysis-{analysis.id}"):
                ids = list(visit_names)
                visit_id = st.selectbox(
                    "Visit", ids, index=ids.index(analysis.visit_id), format_func=visit_names.get
                )
                trial = st.number_input("Trial number", min_value=1, value=analysis.trial, step=1)
                if st.form_submit_button("Save") and report_errors(
                    lambda: update_analysis(db, analysis.id, visit_id=visit_id, trial=int(trial)),
                    "Moving the analysis",
                ):
                    flash(f"Analysis {analysis.id} saved.")
            sure = st.checkbox(
                f"Yes, delete analysis {analysis.id} (trial {analysis.trial})",
                key=f"sure-analysis-{analysis.id}",
            )
            if st.button("Delete analysis", disabled=not sure, key=f"delete-analysis-{analysis.id}"):
                deleted = report_errors(lambda: delete_analysis(db, analysis.id), "Deleting the analysis")
                if deleted is not None:
                    flash(deleted.summary())
