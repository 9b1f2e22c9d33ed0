"""Everyone MoveScope tracked in a video: thumbnails and the patient-selection scores behind the choice."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.annotate import track_thumbnail
from core.pipeline import AnalysisSettings, VideoAnalysis
from pages.parts.common import image_data_uri


@st.cache_data(show_spinner=False, max_entries=32)
def thumbnails(path: str, sha: str, analysis_settings: AnalysisSettings, _analysis: VideoAnalysis) -> dict:
    return {t.id: image_data_uri(track_thumbnail(path, t)) for t in _analysis.tracks}


def candidate_table(analysis: VideoAnalysis, pictures: dict) -> None:
    rows = [
        {
            "person": pictures.get(c.track_id, ""),
            "track": c.track_id,
            "patient": "✔" if c.track_id == analysis.selection.track_id else "",
            "score": c.score,
            "movement": c.direction,
            "seconds": c.seconds,
            "travel (body heights)": c.progression,
            "bounce (body heights)": c.oscillation,
            "seed rule (Δy/Δx)": c.seed_score,
            "why": c.reason,
        }
        for c in analysis.selection.candidates
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        row_height=70,
        column_config={
            "person": st.column_config.ImageColumn("person", width="small"),
            "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f"),
            "why": st.column_config.TextColumn(width="large"),
        },
    )
