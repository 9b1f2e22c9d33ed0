"""Home: what MoveScope does, the latest analyses and the measured performance."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.bench import BENCH_DIR
from core.storage.records import patient_overview, recent_analyses, visit_name
from pages.parts.common import database, page_header

page_header("MoveScope")
st.markdown(
    """
Clinical movement analysis from ordinary video, on an ordinary computer.

- **Gait**: upload a walking video. MoveScope detects and tracks every person, picks out the patient among
  bystanders and explains its choice, then measures GAITRite-named gait parameters (speed, cadence, step and
  stride lengths, stance, swing and double support) with their stride-to-stride spread and age/sex norms -
  or says why the video cannot support them.
- **Falls**: upload a video and/or a body-worn sensor recording (waist or wrist). Falls are told apart from
  sitting, bending or lying down on purpose; a fall followed by lying raises an alarm (banner, webhook,
  e-mail) that someone acknowledges.
- **Patients**: each patient's visits, analyses, alarms and trends over time, with a printable report.
- **Agreement**: compare MoveScope with a reference walkway (ICC, Bland-Altman, minimal detectable change).

Patients are identified by a pseudonymous code only. Videos and results stay on this server.
Patients are identified by a pseudonymous code only. Videos and results stay on this server.
"""
)

db = database()
patients = patient_overview(db)
recent = recent_analyses(db, limit=15)
c1, c2, c3 = st.columns(3)
c1.metric("Patients", len(patients))
c2.metric("Visits", sum(p.visits for p in patients))
c3.metric("Analyses", sum(p.analyses for p in patients))

st.subheader("Recent analyses")
if recent:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": a.created_at,
                    "patient": a.patient_code,
                    "visit": visit_name(a.visit_date, a.visit_label),
                    "kind": a.kind,
                    "trial": a.trial,
                    "video": a.input_name,
                    "patient track": a.patient_track_id,
                }
                for a in recent
            ]
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No analyses saved yet. Start on the Gait or Falls page.")

bench = BENCH_DIR / "pipeline.json"
if bench.is_file():
    st.subheader("Measured speed")
    result = json.loads(bench.read_text())
    machine = result["machine"]
    st.caption(f"{result['what']} on {machine['cores']} cores ({machine['cpu']}), {machine['date']}")
    st.dataframe(
        pd.DataFrame(result["runs"])[["video", "size", "imgsz", "frames", "fps", "peak_rss_mb"]],
        hide_index=True,
        width="stretch",
    )
