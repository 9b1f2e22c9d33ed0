"""The gait results as a clinician reads them: refusal or parameters against references, strides, plots."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.gait.analysis import GaitResult
from core.gait.export import gaitrite_csv
from core.gait.norms import BOHANNON_2011, PERRY_2010, references

SIDE_COLOURS = {"left": "#1f77b4", "right": "#d62728"}


def quality_banner(gait: GaitResult | None) -> bool:
    """Show why a result is refused or what to watch; returns whether parameters may be shown."""
    if gait is None:
        st.error("No gait analysis: the patient is not tracked long enough.", icon=":material/block:")
        return False
    if not gait.quality.usable:
        st.error(
            "MoveScope does not report gait parameters for this video: "
            + "; ".join(gait.quality.reasons)
            + ".",
            icon=":material/block:",
        )
    for warning in gait.quality.warnings:
        st.warning(warning[0].upper() + warning[1:] + ".", icon=":material/warning:")
    return gait.quality.usable


def parameter_table(gait: GaitResult, age: int | None, sex: str | None) -> None:
    refs = references(age, sex)
    rows = []
    for name, p in gait.parameters.items():
        ref = refs.get(name)
        rows.append(
            {
                "parameter": name,
                "value": p.value,
                "± SD": p.uncertainty,
                "unit": p.unit,
                "strides": p.n,
                "reference": ref.value if ref else None,
                "vs reference": f"{100 * (p.value - ref.value) / ref.value:+.0f}%" if ref else "",
                "reference group": ref.group if ref else "",
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "value": st.column_config.NumberColumn(format="%.2f"),
            "± SD": st.column_config.NumberColumn(format="%.2f"),
            "reference": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    st.caption(
        f"{gait.view.capitalize()} view, {gait.method} event detection; lengths: {gait.calibration}. "
        f"± SD is the spread over strides. References: walking speed {BOHANNON_2011}; cadence, stride "
        f"length and phases {PERRY_2010}. Toe in/out is not measured (the pose model has no toe keypoints)."
    )


def stride_table(gait: GaitResult) -> None:
    st.dataframe(pd.DataFrame([s.to_dict() for s in gait.strides]), hide_index=True, width="stretch")


def event_figure(gait: GaitResult) -> go.Figure:
    """The detector's signal per foot, heel strikes (solid) and toe offs (dotted), and the analysed pass."""
    t = gait.signals.time_s
    fig = go.Figure()
    for side, colour in SIDE_COLOURS.items():
        fig.add_scatter(x=t, y=gait.events.signal[side], name=f"{side} foot", line={"color": colour})
        foot = gait.events.feet[side]
        for times, dash, kind in (
            (foot.heel_strike_s, "solid", "heel strike"),
            (foot.toe_off_s, "dot", "toe off"),
        ):
            for x in times:
                fig.add_vline(x=x, line={"color": colour, "dash": dash, "width": 1}, opacity=0.6)
            fig.add_scatter(
                x=times,
                y=np.interp(times, t, gait.events.signal[side]),
                mode="markers",
                name=f"{side} {kind}",
                marker={
                    "color": colour,
                    "symbol": "triangle-down" if kind == "heel strike" else "circle-open",
                },
            )
    fig.add_vrect(x0=gait.pass_s[0], x1=gait.pass_s[1], fillcolor="#0b6e79", opacity=0.06, line_width=0)
    fig.update_layout(
        height=330,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="time (s)",
        yaxis_title=gait.events.signal_name,
        legend={"orientation": "h"},
    )
    return fig


def angle_figure(gait: GaitResult) -> go.Figure | None:
    """Mean sagittal hip and knee flexion over the gait cycle per side (± 1 SD band)."""
    if not gait.angles:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("hip flexion", "knee flexion"))
    x = np.linspace(0, 100, 101)
    for col, joint in enumerate(("hip", "knee"), start=1):
        for side, colour in SIDE_COLOURS.items():
            cycles = gait.angles.get(side, {}).get(joint)
            if cycles is None or len(cycles) == 0:
                continue
            mean, sd = np.nanmean(cycles, axis=0), np.nanstd(cycles, axis=0)
            fig.add_scatter(
                x=np.concatenate([x, x[::-1]]),
                y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                fill="toself",
                fillcolor=colour,
                opacity=0.15,
                line={"width": 0},
                showlegend=False,
                row=1,
                col=col,
            )
            fig.add_scatter(x=x, y=mean, name=f"{side} {joint}", line={"color": colour}, row=1, col=col)
    fig.update_xaxes(title_text="% of gait cycle")
    fig.update_yaxes(title_text="degrees", col=1)
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def export_button(document: dict, patient_code: str | None, video_name: str) -> None:
    trial = {
        "patient": patient_code or "unassigned",
        "visit": date.today().isoformat(),
        "trial": 1,
        "parameters": document["parameters"],
    }
    st.download_button(
        "Export CSV (GAITRite columns)",
        gaitrite_csv([trial]),
        file_name=f"{video_name.rsplit('.', 1)[0]}-gait.csv",
        mime="text/csv",
    )


def gait_report(
    gait: GaitResult | None, document: dict, age: int | None, sex: str | None, patient_code, name
):
    """The whole gait section of the Gait page."""
    if not quality_banner(gait):
        if gait is not None and gait.strides:
            with st.expander("What MoveScope detected"):
                st.plotly_chart(event_figure(gait), width="stretch")
        return
    parameter_table(gait, age, sex)
    export_button(document, patient_code, name)
    st.subheader("Gait events")
    st.plotly_chart(event_figure(gait), width="stretch")
    figure = angle_figure(gait)
    if figure is not None:
        st.plotly_chart(figure, width="stretch")
    with st.expander(f"Stride by stride ({len(gait.strides)} strides)"):
        stride_table(gait)
