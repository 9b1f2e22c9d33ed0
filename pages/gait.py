"""Gait: upload a walking video; see everyone tracked, the patient chosen and why, the gait parameters."""

from __future__ import annotations

from datetime import date

import streamlit as st

from core.annotate import annotated_video_for
from core.cache import StageCache
from core.errors import InputError
from core.gait.analysis import GaitSettings
from core.gait.calibration import DEFAULT_HFOV_DEG, Calibration
from core.gait.events import METHODS
from core.pipeline import AnalysisSettings, VideoAnalysis, analyse_video
from core.pose import IMGSZ_CHOICES, PoseSettings
from core.settings import settings
from core.storage.records import save_analysis, store_media
from core.tracking import TRACKERS, TrackingSettings
from core.video import BROWSER_VIDEO_MIME, VIDEO_SUFFIXES
from pages.parts.common import (
    current_patient,
    database,
    page_header,
    report_errors,
    save_to_record,
    save_upload,
)
from pages.parts.gait_report import gait_report
from pages.parts.people import candidate_table, thumbnails

UPLOAD_KEY = "gait-upload"
RESULTS_KEY = "gait-results"
MAX_RESULTS_PER_SESSION = 4
TRACKER_LABELS = {"iou": "IoU, greedy (gait seed)", "bytetrack": "ByteTrack (holds IDs through occlusion)"}
CALIBRATIONS = {
    "height": "patient's height",
    "distance": "two marked points",
    "walkway": "walkway ends",
    "none": "none",
}


@st.cache_resource(show_spinner=False)
def stage_cache() -> StageCache:
    return StageCache(settings().cache_dir)


def analyse(path: str, sha: str, analysis_settings: AnalysisSettings, progress) -> VideoAnalysis:
    """Computed once per session and settings; the stage cache on disk serves other sessions and reruns.

    Not ``st.cache_data``: the progress bar is drawn from inside the computation, which it cannot replay.
    """
    results = st.session_state.setdefault(RESULTS_KEY, {})
    key = (sha, analysis_settings)
    if key not in results:
        results[key] = analyse_video(path, analysis_settings, stage_cache(), progress)
        while len(results) > MAX_RESULTS_PER_SESSION:
            results.pop(next(iter(results)))
    return results[key]


def calibration_form(height_cm: float | None) -> Calibration:
    kind = st.radio("Lengths from", list(CALIBRATIONS), format_func=CALIBRATIONS.get, horizontal=True)
    height = st.number_input("Patient height (cm)", 50.0, 250.0, value=height_cm, step=0.5)
    extra: dict = {}
    if kind == "distance":
        extra["distance_cm"] = st.number_input("Distance between the points (cm)", 1.0, 5000.0, value=200.0)
        text = st.text_input(
            "Points in the image: x1, y1, x2, y2 (pixels)", placeholder="e.g. 120, 900, 1650, 905"
        )
        extra["points_px"] = tuple(float(v) for v in text.split(",")) if text.count(",") == 3 else None
    if kind == "walkway":
        extra["walkway_cm"] = st.number_input("Walkway length (cm)", 50.0, 5000.0, value=500.0)
        rows = st.text_input("Image rows of the walkway's two ends (pixels)", placeholder="e.g. 540, 930")
        extra["walkway_rows_px"] = tuple(float(v) for v in rows.split(",")) if rows.count(",") == 1 else None
    hfov = st.number_input("Camera field of view (degrees)", 20.0, 150.0, value=DEFAULT_HFOV_DEG)
    try:
        return Calibration(kind, height_cm=height, hfov_deg=hfov, **extra)
    except InputError as error:
        st.warning(f"Calibration not used: {error}.")
        return Calibration()


def settings_form(height_cm: float | None) -> AnalysisSettings:
    with st.expander("Analysis settings"):
        imgsz = st.select_slider(
            "Pose image size",
            ["auto", *IMGSZ_CHOICES],
            value="auto",
            help="auto: large enough for the people in this video. Larger finds smaller people, slower",
        )
        stride = st.number_input("Analyse every n-th frame", min_value=1, max_value=10, value=1)
        start, end = st.columns(2)
        start_s = start.number_input("From (s)", min_value=0.0, value=0.0, step=0.5)
        end_s = end.number_input("To (s, empty = end)", min_value=0.0, value=None, step=0.5)
        tracker = st.radio("Tracker", TRACKERS, format_func=TRACKER_LABELS.get, horizontal=True)
        method = st.radio(
            "Gait events",
            METHODS,
            horizontal=True,
            help="auto: the learned detector (GaitPhaseNet, trained on the synthetic lab; model card in "
            "weights/gait-events.md) in every view. Rules for comparison: sagittal (ankle ahead of the "
            "pelvis, side views), frontal (ground plane, toward or away from the camera), stillness "
            "(ankle at rest in the image)",
        )
        calibration = calibration_form(height_cm)
    return AnalysisSettings(
        pose=PoseSettings(
            imgsz=None if imgsz == "auto" else imgsz, stride=int(stride), start_s=start_s, end_s=end_s
        ),
        tracking=TrackingSettings(method=tracker),
        gait=GaitSettings(method=method, calibration=calibration),
    )


def video_with_events(path, analysis: VideoAnalysis) -> None:
    """The annotated video; choosing a gait event starts it there (Streamlit plays from a start time)."""
    events = []
    if analysis.gait is not None:
        for side, foot in analysis.gait.events.feet.items():
            events += [(t, f"{side} heel strike") for t in foot.heel_strike_s]
            events += [(t, f"{side} toe off") for t in foot.toe_off_s]
    start = st.selectbox(
        "Play from",
        [0.0, *sorted(t for t, _ in events)],
        format_func=lambda t: next((f"{t:.2f} s - {label}" for s, label in events if s == t), "the start"),
    )
    st.video(str(path), format=BROWSER_VIDEO_MIME, start_time=int(start))


def save_section(analysis: VideoAnalysis, input_path: str, input_name: str, annotated) -> None:
    def save(**where) -> int:
        stored = store_media(input_path, analysis.sha256)
        record = analysis.to_record(input_name, stored, str(annotated.relative_to(settings().media_dir)))
        return save_analysis(database(), record, **where)

    save_to_record(save)


page_header(
    "Gait analysis",
    "Upload a video of the patient walking. MoveScope finds every person, follows them through the video, "
    "picks the patient - the person who travels steadily, whatever the direction - and measures the gait.",
)
patient = current_patient()
uploaded = st.file_uploader("Walking video", type=[s.lstrip(".") for s in VIDEO_SUFFIXES])
analysis_settings = settings_form(patient.height_cm if patient else None)
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
    lambda: analyse(video_path, video_sha, analysis_settings, lambda f, m: bar.progress(f, m)), "The analysis"
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
        lambda: annotated_video_for(analysis, lambda f, m: bar.progress(f, m)), "Drawing the video"
    )
    bar.empty()
    if annotated is not None:
        video_with_events(annotated, analysis)
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

st.subheader("Gait parameters")
age = date.today().year - patient.birth_year if patient and patient.birth_year else None
gait_report(
    analysis.gait,
    analysis.to_document(),
    age,
    patient.sex if patient else None,
    patient and patient.code,
    video_name,
)

st.subheader("Everyone MoveScope tracked")
candidate_table(analysis, thumbnails(video_path, video_sha, analysis_settings, analysis))
if annotated is not None:
    save_section(analysis, video_path, video_name, annotated)
