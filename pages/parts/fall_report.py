"""The fall results as staff read them: the synchronised timeline and the list of falls with snapshots."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.fall.analysis import BODY_STATES, STATE_COLOURS, FallResult
from core.settings import settings
from pages.parts.common import image_data_uri

MODALITY_COLOURS = {"video": "#0b6e79", "sensor": "#8e44ad", "detector": "#7f8c8d"}


def _hex(bgr: tuple[int, int, int]) -> str:
    b, g, r = bgr
    return f"#{r:02x}{g:02x}{b:02x}"


def timeline_figure(result: FallResult) -> go.Figure:
    """Per-modality fall probability (top), the followed person's body state (bottom), alarms (red lines)."""
    series = result.timeline()
    t = series["time_s"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    if "video_probability" in series:
        fig.add_scatter(
            x=t,
            y=series["video_probability"],
            name="video",
            line={"color": MODALITY_COLOURS["video"]},
            row=1,
            col=1,
        )
    learned = (
        ("learned_impact", "learned: impact", "dot"),
        ("learned_down", "learned: on the floor", "dash"),
    )
    for name, label, dash in learned:
        if name in series:
            fig.add_scatter(
                x=t,
                y=series[name],
                name=f"{label} (followed person)",
                line={"color": MODALITY_COLOURS["video"], "dash": dash},
                opacity=0.6,
                row=1,
                col=1,
            )
    if "detector_probability" in series:
        fig.add_scatter(
            x=series["detector_time_s"],
            y=series["detector_probability"],
            name="fallen-person detector (shown only)",
            mode="markers",
            marker={"color": MODALITY_COLOURS["detector"], "symbol": "diamond"},
            row=1,
            col=1,
        )
    if "sensor_probability" in series:
        fig.add_scatter(
            x=t,
            y=series["sensor_probability"],
            name="sensor",
            line={"color": MODALITY_COLOURS["sensor"]},
            row=1,
            col=1,
        )
    fig.add_hline(y=0.5, line={"dash": "dot", "color": "#999"}, row=1, col=1)
    if "body_state" in series:
        codes = series["body_state"]
        for code, name in enumerate(BODY_STATES):
            mask = codes == code
            if mask.any():
                fig.add_scatter(
                    x=t[mask],
                    y=[name] * int(mask.sum()),
                    mode="markers",
                    marker={"color": _hex(STATE_COLOURS[name]), "size": 6, "symbol": "square"},
                    name=name,
                    showlegend=False,
                    row=2,
                    col=1,
                )
        fig.update_yaxes(categoryorder="array", categoryarray=list(BODY_STATES), row=2, col=1)
    for alarm_s in series["alarms_s"]:
        fig.add_vline(x=alarm_s, line={"color": "#d62728", "width": 2})
        fig.add_annotation(
            x=alarm_s, y=1.05, yref="paper", text="alarm", showarrow=False, font={"color": "#d62728"}
        )
    for event in result.events:
        fig.add_vrect(x0=event.start_s, x1=event.end_s, fillcolor="#d62728", opacity=0.12, line_width=0)
    fig.update_yaxes(title_text="fall probability", range=[0, 1.05], row=1, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h"})
    return fig


def event_table(result: FallResult, snapshots: dict[int, str]) -> None:
    """The falls: when, seen by what, how long the person lay, whether the alarm went, and a snapshot."""
    rows = []
    for i, e in enumerate(result.events):
        picture = ""
        if i in snapshots:
            image = cv2.imread(str(settings().media_dir / snapshots[i]))
            picture = image_data_uri(image, width=160) if image is not None else ""
        rows.append(
            {
                "snapshot": picture,
                "fall from (s)": round(e.start_s, 2),
                "down at (s)": round(e.end_s, 2),
                "seen by": " + ".join(e.modalities),
                "person": "" if e.track_id is None else f"#{e.track_id}",
                "lying (s)": None if e.lying_s is None else round(e.lying_s, 1),
                "alarm at (s)": None if e.alarm_s is None else round(e.alarm_s, 1),
                "score": round(e.score, 2),
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        row_height=90 if snapshots else None,
        column_config={
            "snapshot": st.column_config.ImageColumn("snapshot", width="small"),
            "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f"),
        },
    )


def summary_metrics(result: FallResult) -> None:
    cols = st.columns(4)
    cols[0].metric("Fall", "yes" if result.fall else "no")
    cols[1].metric("Fall probability", f"{result.probability:.2f}")
    cols[2].metric("Falls", len(result.events))
    cols[3].metric("Alarms", sum(e.alarm for e in result.events))
    for name in ("video", "sensor"):
        p = result.modality_probability(name)
        if p is not None:
            st.caption(f"{name}: probability {p:.2f}")
    if result.opinion is not None:
        peak = [float(np.nanmax(s)) for s in result.opinion.scores.values() if np.isfinite(s).any()]
        st.caption(
            f"Fallen-person detector (second opinion, shown only - weight {result.opinion.weight:g}): "
            f"highest 'Fall' score {max(peak, default=0.0):.2f} over {len(result.opinion.frames)} frames."
        )
