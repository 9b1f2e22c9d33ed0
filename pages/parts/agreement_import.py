"""Reference measurements on the agreement page: upload, column mapping, preview, import, list of imports.

The mapping step is pre-filled from a GAITRite export's own column names
(:func:`core.reference.detect_gaitrite_mapping`); any other CSV is mapped by hand. Reading and validation
are :mod:`core.reference`'s, storing and matching :mod:`core.storage.references`'.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.reference import (
    GAITRITE_PARAMETERS,
    UNITS,
    ColumnMapping,
    ReferenceImportError,
    detect_gaitrite_mapping,
    read_reference_csv,
    reference_columns,
)
from core.storage.references import (
    DEFAULT_SYSTEM,
    delete_reference_import,
    import_references,
    preview_reference_import,
    reference_imports,
    unmatched_reference_trials,
)
from pages.parts.common import database, report_errors

NOT_IMPORTED = "(not imported)"
NO_TRIAL_COLUMN = "(none: every row is trial 1)"


def import_section() -> None:
    uploaded = st.file_uploader(
        "Reference export (CSV)",
        type=["csv", "txt", "tsv"],
        help="A GAITRite export (its own column names are recognised) or any CSV with one row per trial",
    )
    if uploaded is None:
        st.info("Upload a GAITRite export or another reference CSV to import its trials.")
    else:
        data = uploaded.getvalue()
        columns = report_errors(lambda: reference_columns(data), "Reading the file")
        if columns is not None:
            mapping = mapping_step(columns, hashlib.sha256(data).hexdigest()[:12])
            if mapping is not None:
                preview_and_import(data, mapping, uploaded.name)
    imports_list()


def mapping_step(columns: list[str], file_key: str) -> ColumnMapping | None:
    """Widgets for the column mapping, pre-filled from GAITRite's column names when they are there."""
    try:
        detected = detect_gaitrite_mapping(columns)
        st.success(f"Recognised as a GAITRite export: {len(detected.parameters)} parameter columns.")
    except ReferenceImportError as error:
        st.info(
            "Not recognised as a GAITRite export; map its columns below. (" + "; ".join(error.problems) + ")"
        )
        detected = ColumnMapping(patient="", visit="", parameters={})
    st.markdown("**Column mapping**")
    left, middle, right = st.columns(3)
    patient = left.selectbox(
        "Patient code column", columns, index=_index(columns, detected.patient), key=f"patient-{file_key}"
    )
    visit = middle.selectbox(
        "Visit column (date or label)",
        columns,
        index=_index(columns, detected.visit),
        key=f"visit-{file_key}",
    )
    trial = right.selectbox(
        "Trial column",
        [NO_TRIAL_COLUMN, *columns],
        index=(_index(columns, detected.trial) or 0) + (1 if detected.trial else 0),
        key=f"trial-{file_key}",
    )
    date_format = st.text_input(
        "Visit date format (only for dates not written as 2026-03-01)",
        placeholder="e.g. %d/%m/%Y",
        key=f"datefmt-{file_key}",
    )
    parameters: dict[str, str] = {}
    units: dict[str, str] = {}
    with st.expander("Parameter columns", expanded=not detected.parameters):
        for column in columns:
            if column in (patient, visit, trial):
                continue
            name_box, unit_box = st.columns([3, 1])
            targets = [NOT_IMPORTED, *GAITRITE_PARAMETERS]
            target = name_box.selectbox(
                f"Column {column!r} holds",
                targets,
                index=targets.index(detected.parameters.get(column, NOT_IMPORTED)),
                key=f"target-{file_key}-{column}",
            )
            if target == NOT_IMPORTED:
                continue
            spec = GAITRITE_PARAMETERS[target]
            choices = list(UNITS[spec.kind][1])
            given = detected.units.get(column, spec.unit)
            unit = unit_box.selectbox(
                "in",
                choices,
                index=choices.index(given) if given in choices else choices.index(spec.unit),
                key=f"unit-{file_key}-{column}-{target}",
            )
            parameters[column] = target
            if unit != spec.unit:
                units[column] = unit
    if patient is None or visit is None:
        st.warning("Choose the columns holding the patient code and the visit.")
        return None
    return ColumnMapping(
        patient=patient,
        visit=visit,
        trial=None if trial == NO_TRIAL_COLUMN else trial,
        parameters=parameters,
        units=units,
        visit_date_format=date_format.strip() or None,
    )


def preview_and_import(data: bytes, mapping: ColumnMapping, file_name: str) -> None:
    table = report_errors(lambda: read_reference_csv(data, mapping), "Reading the reference file")
    if table is None:
        return
    st.markdown(f"**Preview**: {len(table)} trials, {len(table.parameters)} parameters.")
    if table.conversions:
        st.caption("Converted to MoveScope's units: " + "; ".join(table.conversions))
    if table.ignored_columns:
        st.caption("Not imported: " + ", ".join(table.ignored_columns))
    st.dataframe(table.to_frame(), hide_index=True, width="stretch")
    db = database()
    system = st.text_input("Reference system", value=DEFAULT_SYSTEM, max_chars=64)
    plan = report_errors(lambda: preview_reference_import(db, table, system), "Matching the trials")
    if plan is None:
        return
    st.dataframe(plan.to_frame(), hide_index=True, width="stretch")
    for problem in plan.problems:
        st.error(problem, icon=":material/error:")
    require_match = st.checkbox("Import only if every row matches a MoveScope analysis")
    if st.button("Import", type="primary", disabled=bool(plan.problems)):
        done = report_errors(
            lambda: import_references(
                db, table, file_name=file_name, system=system, require_match=require_match
            ),
            "Importing the reference file",
        )
        if done is not None:
            st.success(done.summary(), icon=":material/check_circle:")
            for trial in done.unmatched:
                st.warning(f"{trial.row.describe()}: {trial.reason}", icon=":material/link_off:")


def imports_list() -> None:
    db = database()
    imports = reference_imports(db)
    if not imports:
        return
    st.markdown("**Imported reference files**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "import": i.id,
                    "system": i.system,
                    "file": i.file_name,
                    "imported": i.imported_at,
                    "trials": i.trials,
                    "matched": i.matched,
                }
                for i in imports
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    unmatched = unmatched_reference_trials(db)
    if unmatched:
        with st.expander(f"Reference trials without a MoveScope analysis ({len(unmatched)})"):
            st.caption(
                "They are matched as soon as the analysis is saved to the visit with that trial number."
            )
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "patient": t.row.patient_code,
                            "visit": t.row.visit,
                            "trial": t.row.trial,
                            "line": t.row.line,
                            "why": t.reason,
                        }
                        for t in unmatched
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
    with st.expander("Delete an import"):
        labels = {i.id: f"{i.id}: {i.file_name} ({i.system}, {i.trials} trials)" for i in imports}
        chosen = st.selectbox("Import", list(labels), format_func=labels.get)
        sure = st.checkbox("Yes, delete this import and all its trials")
        if st.button("Delete import", disabled=not sure):
            gone = report_errors(lambda: delete_reference_import(db, chosen), "Deleting the import")
            if gone is not None:
                st.success(f"Deleted import {chosen} ({gone} trials).")


def _index(options: list[str], value) -> int | None:
    return options.index(value) if isinstance(value, str) and value in options else None
