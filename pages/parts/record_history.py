"""The patient's history on the record page: timeline, flagged changes, trends, two visits side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.agreement import change_exceeds_mdc
from core.history import PatientHistory
from core.report import flag_sentences, timeline_figure, trend_figure, values_table
from core.storage.records import TrialValues, gait_trials, media_path
from core.video import BROWSER_VIDEO_MIME
from pages.parts.common import database

TRENDS_SHOWN = 4


def history_section(history: PatientHistory) -> None:
    if not history.visits:
        st.info("No visits yet.")
        return
    st.plotly_chart(timeline_figure(history), width="stretch", key="timeline")
    if not history.parameters:
        st.info("No gait parameters measured yet: save a gait analysis on the Gait page.")
        return
    for sentence in flag_sentences(history):
        st.warning(f"Change beyond the MDC - {sentence}", icon=":material/trending_up:")
    names = list(history.parameters)
    chosen = st.multiselect("Parameters", names, default=names[:TRENDS_SHOWN], key="trend-parameters")
    for name in chosen:
        parameter = history.parameters[name]
        st.plotly_chart(trend_figure(parameter), width="stretch", key=f"trend-{name}")
        st.caption(parameter.mdc_note[0].upper() + parameter.mdc_note[1:] + ".")
        if parameter.norm_source:
            st.caption(f"Dashed line: mean of {parameter.norm_group} ({parameter.norm_source}).")
        with st.expander(f"{name}: values per visit"):
            st.dataframe(values_table(parameter), hide_index=True, width="stretch")


def compare_section(history: PatientHistory) -> None:
    """Two visits side by side: the annotated video of a chosen trial of each, and every parameter."""
    measured = [v for v in history.visits if v.gait_trials]
    if len(measured) < 2:
        st.info("Two visits with gait analyses are needed to compare them.")
        return
    names = {v.id: v.name for v in measured}
    trials = gait_trials_by_visit(history.patient_id)
    left, right = st.columns(2)
    chosen = []
    for column, default, side in ((left, len(measured) - 2, "earlier"), (right, len(measured) - 1, "later")):
        with column:
            visit_id = st.selectbox(
                f"Visit ({side})", list(names), index=default, format_func=names.get, key=f"cmp-{side}"
            )
            chosen.append(visit_id)
            options = trials.get(visit_id, [])
            trial = st.selectbox(
                "Trial", options, format_func=lambda t: f"trial {t.trial}", key=f"cmp-trial-{side}"
            )
            video = media_path(trial.annotated_path) if trial else None
            if video is not None and video.is_file():
                st.video(str(video), format=BROWSER_VIDEO_MIME)
            else:
                st.caption("The annotated video of this trial is not stored on this server.")
    st.dataframe(
        comparison_table(history, *chosen),
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(format="%.2f") for c in ("earlier", "later", "change", "MDC95")
        },
    )
    st.caption("Values are each visit's mean over its trials; the MDC is the one on the History tab.")


def gait_trials_by_visit(patient_id: int) -> dict[int, list[TrialValues]]:
    by_visit: dict[int, list[TrialValues]] = {}
    for trial in gait_trials(database(), patient_id):
        by_visit.setdefault(trial.visit_id, []).append(trial)
    return by_visit


def comparison_table(history: PatientHistory, earlier: int, later: int) -> pd.DataFrame:
    """Per parameter: both visits' means, the change and whether it exceeds the parameter's MDC."""
    rows = []
    for name, parameter in history.parameters.items():
        values = {v.visit_id: v.value for v in parameter.visits}
        a, b = values.get(earlier), values.get(later)
        change = b - a if a is not None and b is not None else None
        mdc = parameter.mdc.mdc95 if parameter.mdc else None
        beyond = "" if change is None or mdc is None else ("yes" if change_exceeds_mdc(a, b, mdc) else "no")
        rows.append(
            {
                "parameter": name,
                "unit": parameter.unit,
                "earlier": a,
                "later": b,
                "change": change,
                "MDC95": mdc,
                "beyond MDC": beyond if mdc is not None else "no MDC",
            }
        )
    return pd.DataFrame(rows)
