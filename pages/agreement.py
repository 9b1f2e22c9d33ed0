"""Agreement: does MoveScope measure gait as the reference walkway does? Import references, compare.

Section 1 stores a reference system's measurements (GAITRite export or any mapped CSV) next to the stored
analyses of the same trials. Section 2 computes, per parameter, the ICC forms with CIs and bands, a
Bland-Altman analysis and a scatter against identity, from the stored pairs or from an uploaded paired CSV,
and exports the table and the figures.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from core.agreement import MIN_PAIRS_BLAND_ALTMAN, agreement_report, paired_columns
from core.agreement_cli import read_paired_csv
from core.report import HtmlDocument
from core.storage.references import reference_pairs, reference_systems
from pages.parts.agreement_import import import_section
from pages.parts.agreement_plots import (
    bland_altman_figure,
    bland_altman_note,
    icc_frame,
    overview_frame,
    scatter_figure,
)
from pages.parts.common import database, page_header, report_errors, save_upload

STORED, UPLOADED = "Stored analyses and imported references", "A paired CSV file"
DEFAULT_PARAMETERS_SHOWN = 6

page_header(
    "Agreement with a reference system",
    "Import the reference walkway's (or motion-capture lab's) measurements of the same trials, then see how "
    "closely MoveScope agrees: ICC with 95% CI and band (excellent > 0.75, good 0.40-0.75, poor < 0.40, as "
    "the gait seed reported), Bland-Altman and scatter plots.",
)
db = database()

st.header("1. Reference measurements")
import_section()

st.header("2. Agreement")
source = st.radio("Pairs from", [STORED, UPLOADED], horizontal=True)
frame, suffix = None, "_ref"
if source == STORED:
    systems = reference_systems(db)
    if not systems:
        st.info("No reference measurements imported yet (section 1), or upload a paired CSV.")
        st.stop()
    system = st.selectbox("Reference system", systems)
    frame = reference_pairs(db, system)
    if frame.empty:
        st.info(f"No {system} trial is matched to a MoveScope analysis yet.")
        st.stop()
    st.caption(
        f"{len(frame)} trials of {frame['patient_code'].nunique()} patients matched to MoveScope analyses."
    )
else:
    uploaded = st.file_uploader(
        "Paired CSV: a row per trial, a column per parameter and its partner (Velocity, Velocity_ref)",
        type=["csv", "txt", "tsv"],
        key="paired-upload",
    )
    suffix = st.text_input("Reference columns end with", value="_ref")
    if uploaded is None:
        st.info("Upload a paired CSV (the format of `python -m core agreement CSV`).")
        st.stop()
    frame = report_errors(lambda: read_paired_csv(save_upload(uploaded)[0]), "Reading the paired CSV")
    if frame is None:
        st.stop()

pairs = report_errors(
    lambda: paired_columns([str(c) for c in frame.columns], reference_suffix=suffix), "Pairing"
)
if not pairs:
    st.stop()


def numbers(column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


complete = {m: int(np.sum(np.isfinite(numbers(m)) & np.isfinite(numbers(r)))) for m, r in pairs}
enough = [m for m, _ in pairs if complete[m] >= MIN_PAIRS_BLAND_ALTMAN] or [m for m, _ in pairs]
chosen = st.multiselect(
    "Parameters",
    [m for m, _ in pairs],
    default=enough[:DEFAULT_PARAMETERS_SHOWN],
    format_func=lambda m: f"{m} ({complete[m]} pairs)",
)
scale = st.radio(
    "Bland-Altman scale",
    ["difference", "ratio"],
    horizontal=True,
    help="ratio: for differences that grow with the magnitude (log-transformed values)",
)
if not chosen:
    st.info("Choose at least one parameter.")
    st.stop()
partner = dict(pairs)
results = report_errors(
    lambda: agreement_report(frame, pairs={m: partner[m] for m in chosen}, scale=scale),
    "The agreement analysis",
)
if results is None:
    st.stop()

st.subheader("Overview")
st.dataframe(
    overview_frame(results),
    hide_index=True,
    width="stretch",
    column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in ("ICC(2,1)", "bias", "CCC", "MAE")
    },
)
figures = []
for result in results:
    st.subheader(result.parameter)
    if result.message is not None:
        st.warning(f"{result.parameter}: {result.message}", icon=":material/info:")
        continue
    measured, reference = numbers(result.measured_column), numbers(result.reference_column)
    scatter, bland_altman = scatter_figure(result, measured, reference), bland_altman_figure(result)
    figures.append((result, scatter, bland_altman))
    left, right = st.columns(2)
    left.plotly_chart(scatter, width="stretch", key=f"scatter-{result.parameter}")
    right.plotly_chart(bland_altman, width="stretch", key=f"ba-{result.parameter}")
    st.caption(bland_altman_note(result))
    st.dataframe(
        icc_frame([result]).drop(columns=["parameter", "n"]),
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in ("ICC", "CI low", "CI high", "F")
        },
    )
    if result.icc and result.icc.caution:
        st.caption(f"Caution: {result.icc.caution}.")


def figures_html() -> str:
    document = HtmlDocument("MoveScope agreement with the reference system")
    document.table(overview_frame(results))
    for result, scatter, bland_altman in figures:
        document.heading(result.parameter)
        document.figure(scatter)
        document.figure(bland_altman)
        document.paragraph(bland_altman_note(result))
        document.table(icc_frame([result]).drop(columns=["parameter"]))
    return document.render()


st.subheader("Export")
one, two, three = st.columns(3)
one.download_button(
    "ICC table (CSV)",
    icc_frame(results).to_csv(index=False),
    "movescope-icc.csv",
    "text/csv",
    on_click="ignore",
)
two.download_button(
    "Figures (HTML)",
    figures_html,
    "movescope-agreement.html",
    "text/html",
    on_click="ignore",
    disabled=not figures,
)
three.download_button(
    "Full report (JSON)",
    json.dumps({r.parameter: r.to_dict(points=True) for r in results}, indent=2),
    "movescope-agreement.json",
    "application/json",
    on_click="ignore",
)
