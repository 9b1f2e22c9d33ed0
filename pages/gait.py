"""Gait: upload a walking video, see everyone tracked and which one is the patient (and why), save it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.annotate import annotated_video_for, track_thumbnail
from core.cache import StageCache
from core.pipeline import AnalysisSettings, VideoAnalysis, analyse_video
from core.pose import IMGSZ_CHOICES, PoseSettings
from core.settings import settings
from core.storage.records import save_analysis, store_media, visits_of
from core.tracking import TRACKERS, TrackingSettings
from core.video import BROWSER_VIDEO_MIME, VIDEO_SUFFIXES
from pages.common import current_patient, database, image_data_uri, page_header, report_errors, save_upload

UPLOAD_KEY = "gait-upload"
TRACKER_LABELS = {"iou": "IoU, greedy (gait seed)", "bytetrack": "ByteTrack (holds IDs through occlusion)"}


RESULTS_KEY = "gait-results"
MAX_RESULTS_PER_SESSION = 4


@st.cache_resource(show_spinner=False)
def stage_cache() -> StageCache:
    return StageCache(settings().cache_dir)


def analyse(path: str, sha: str, analysis_settings: AnalysisSettings, progress) -> VideoAnalysis:
    """The analysis, computed once per session and settings (the stage cache on disk serves other sessions).

    Not ``st.cache_data``: the progress bar is drawn from inside the computation, which cached functions
    cannot replay.
    """
    results = st.session_state.setdefault(RESULTS_KEY, {})
    key = (sha, analysis_settings)
    if key not in results:
        results[key] = analyse_video(path, analysis_settings, stage_cache(), progress)
        while len(results) > MAX_RESULTS_PER_SESSION:
            results.pop(next(iter(results)))
    return results[key]


@st.cache_data(show_spinner=False, max_entries=32)
def thumbnails(path: str, sha: str, analysis_settings: AnalysisSettings, _analysis: VideoAnalysis) -> dict:
    return {t.id: image_data_uri(track_thumbnail(path, t)) for t in _analysis.tracks}


def settings_form() -> AnalysisSettings:
    with st.expander("Analysis settings"):
        imgsz = st.select_slider(
            "Pose image size",
            IMGSZ_CHOICES,
            value=PoseSettings.imgsz,
            help="Larger finds smaller people and places joints more precisely, but is slower",
        )
        stride = st.number_input("Analyse every n-th frame", min_value=1, max_value=10, value=1)
        tracker = st.radio("Tracker", TRACKERS, format_func=TRACKER_LABELS.get, horizontal=True)
    return AnalysisSettings(
        pose=PoseSettings(imgsz=imgsz, stride=int(stride)), tracking=TrackingSettings(method=tracker)
    )


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
            "seconds": st.column_config.NumberColumn(format="%.1f"),
            "travel (body heights)": st.column_config.NumberColumn(format="%.2f"),
            "bounce (body heights)": st.column_config.NumberColumn(format="%.2f"),
            "seed rule (Δy/Δx)": st.column_config.NumberColumn(format="%.2f"),
            "why": st.column_config.TextColumn(width="large"),
        },
    )


def save_section(analysis: VideoAnalysis, input_path: str, input_name: str, annotated) -> None:
    st.subheader("Save to the patient's record")
    patient = current_patient()
    if patient is None:
        st.info("Choose or create a patient in the sidebar to save this analysis.")
        return
    visits = visits_of(database(), patient.id)
    labels = {v.id: f"{v.visit_date:%Y-%m-%d} {v.label or ''}".strip() for v in visits}
    visit_id = st.selectbox(
        f"Visit of {patient.code}",
        [None, *labels],
        format_func=lambda v: "New visit today" if v is None else labels[v],
    )
    label = st.text_input("Label of the new visit", placeholder="e.g. baseline") if visit_id is None else None
    if st.button("Save analysis", type="primary"):

        def save() -> int:
            stored = store_media(input_path, analysis.sha256)
            relative = str(annotated.relative_to(settings().media_dir))
            record = analysis.to_record(input_name, stored, relative)
            return save_analysis(
                database(),
                record,
                visit_id=visit_id,
                new_visit_of=patient.id,
                visit_date=date.today(),
                visit_label=label,
            )

        saved = report_errors(save, "Saving the analysis")
        if saved is not None:
            st.success(
                f"Saved as analysis {saved} of patient {patient.code}.", icon=":material/check_circle:"
            )


page_header(
    "Gait analysis",
    "Upload a video of the patient walking. MoveScope finds every person, follows them through the video and "
    "picks the patient: the person who travels steadily, whatever the walking direction.",
)
uploaded = st.file_uploader("Walking video", type=[s.lstrip(".") for s in VIDEO_SUFFIXES])
analysis_settings = settings_form()
if uploaded is None:
    st.info(
        "Upload a video to start. Longer recordings can also be analysed with `python -m core gait VIDEO`."
    )
    st.stop()

saved_upload = st.session_state.get(UPLOAD_KEY)
if not saved_upload or saved_upload[0] != uploaded.file_id:
    path, sha = save_upload(uploaded)
    st.session_state[UPLOAD_KEY] = saved_upload = (uploaded.file_id, str(path), sha, uploaded.name)
_, video_path, video_sha, video_name = saved_upload

bar = st.progress(0.0, "Starting the analysis")
analysis = report_errors(
    lambda: analyse(video_path, video_sha, analysis_settings, lambda f, m: bar.progress(f, m)),
    "The analysis",
)
bar.empty()
if analysis is None:
    st.stop()

automatic = analysis.selection.track_id
choice = st.selectbox(
    "Patient",
    [None, *(c.track_id for c in analysis.selection.candidates)],
    format_func=lambda i: f"Automatic: track {automatic}" if i is None else f"Track {i}",
    key=f"override-{video_sha}",
    help="Override the automatic choice if MoveScope picked a bystander",
)
if choice is not None:
    analysis = report_errors(lambda: analysis.reselect(choice), "Choosing the patient") or analysis

left, right = st.columns([3, 2])
with left:
    bar = st.progress(0.0, "Drawing the annotated video")
    annotated = report_errors(
        lambda: annotated_video_for(analysis, lambda f, m: bar.progress(f, m)), "Drawing the annotated video"
    )
    bar.empty()
    if annotated is not None:
        st.video(str(annotated), format=BROWSER_VIDEO_MIME)
with right:
    video = analysis.video
    st.metric(
        "Patient",
        f"track {analysis.selection.track_id}",
        "chosen by you" if analysis.selection.manual else None,
    )
    st.write(analysis.selection.reason)
    st.caption(
        f"{video.width}x{video.height}, {video.fps:.1f} fps, {video.duration_s:.1f} s; "
        f"{len(analysis.tracks)} people tracked; analysed at {analysis.timings['fps']:.0f} frames/s"
        + (" (cached)" if analysis.cached_stages else "")
    )

st.subheader("Everyone MoveScope tracked")
candidate_table(analysis, thumbnails(video_path, video_sha, analysis_settings, analysis))
if annotated is not None:
    save_section(analysis, video_path, video_name, annotated)
