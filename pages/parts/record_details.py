"""The patient record's details: edit them, delete the patient (typing the code confirms), the change log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.storage import Patient
from core.storage.audit import patient_audit
from core.storage.records import SEXES, delete_patient, update_patient
from pages.parts.common import database, report_errors

FLASH_KEY = "record-flash"  # a message that survives the rerun after a change


def flash(message: str) -> None:
    """Show ``message`` after the rerun that redraws the page with the change."""
    st.session_state[FLASH_KEY] = message
    st.rerun()


def show_flash() -> None:
    if message := st.session_state.pop(FLASH_KEY, None):
        st.success(message, icon=":material/check_circle:")


def details_section(patient: Patient) -> None:
    db = database()
    height = f"{patient.height_cm:g} cm" if patient.height_cm else "-"
    st.write(
        f"**Code** {patient.code} · **birth year** {patient.birth_year or '-'} · "
        f"**sex** {patient.sex or '-'} · **height** {height}"
    )
    if patient.notes:
        st.caption(patient.notes)
    # Keyed by the last change, so the form shows the stored values again after any edit.
    with st.expander("Edit details"), st.form(f"edit-patient-{patient.id}-{patient.updated_at.isoformat()}"):
        code = st.text_input("Pseudonymous code", value=patient.code, max_chars=64)
        birth_year = st.number_input(
            "Birth year", min_value=1900, max_value=2100, value=patient.birth_year, step=1
        )
        sex = st.selectbox("Sex", SEXES, index=SEXES.index(patient.sex) if patient.sex in SEXES else None)
        height = st.number_input(
            "Height (cm)", min_value=50.0, max_value=250.0, value=patient.height_cm, step=0.5
        )
        notes = st.text_area("Notes", value=patient.notes or "")
        if st.form_submit_button("Save changes"):
            saved = report_errors(
                lambda: update_patient(
                    db,
                    patient.id,
                    code=code,
                    birth_year=int(birth_year) if birth_year else None,
                    sex=sex,
                    height_cm=float(height) if height else None,
                    notes=notes,
                    expected_updated_at=patient.updated_at,
                ),
                "Saving the patient",
            )
            if saved is not None:
                flash(f"Saved the details of {saved.code}.")

    with st.expander("Delete this patient"):
        st.warning(
            "Deletes the patient with every visit, analysis, stored video and reference measurement. "
            "This cannot be undone.",
            icon=":material/warning:",
        )
        typed = st.text_input(f"Type the code {patient.code} to confirm", key=f"confirm-delete-{patient.id}")
        if st.button("Delete patient", type="primary", key=f"delete-patient-{patient.id}"):
            deleted = report_errors(lambda: delete_patient(db, patient.id, typed), "Deleting the patient")
            if deleted is not None:
                flash(deleted.summary())

    changes = patient_audit(db, patient.id)
    if changes:
        with st.expander(f"Change log ({len(changes)})"):
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "when": e.at,
                            "action": e.action,
                            "what": e.table_name,
                            "id": e.row_id,
                            "details": str(e.summary),
                        }
                        for e in changes
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
