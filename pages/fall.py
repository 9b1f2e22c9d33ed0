"""Falls: upload a ward video and/or a body-worn sensor recording; see whether and when the patient fell."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.cache import StageCache
from core.fall.analysis import (
    REALTIME_IMGSZ,
    FallResult,
    FallSettings,
    SensorReading,
    analyse_fall,
    annotated_fall_video,
    save_snapshots,
)
from core.fall.video import FALL_METHODS, VideoFallConfig
from core.pose import IMGSZ_CHOICES, PoseSettings
from core.settings import settings
from core.storage.alarms import save_fall_analysis
from core.storage.records import store_media
from core.video import BROWSER_VIDEO_MIME, VIDEO_SUFFIXES
from pages.parts.common import (
    current_patient,
    database,
    page_header,
    report_errors,
    save_to_record,
    save_upload,
)
from pages.parts.fall_alarms import alarm_banner, alarm_config, raise_alarms
from pages.parts.fall_report import event_table, summary_metrics, timeline_figure

UPLOADS_KEY = "fall-uploads"
RESULTS_KEY = "fall-results"
MAX_RESULTS_PER_SESSION = 4
SENSOR_SUFFIXES = ("csv", "txt", "tsv", "mvnx", "xml")
UNITS = {"acc": ("g", "mg", "m/s^2"), "gyro": ("rad/s", "deg/s"), "time": ("s", "ms")}


@st.cache_resource(show_spinner=False)
def stage_cache() -> StageCache:
    return StageCache(settings().cache_dir)


def uploaded_path(uploaded) -> tuple[str, str, str] | None:
    """(path, sha256, name) of an upload, streamed to disk once per file."""
    if uploaded is None:
        return None
    saved = st.session_state.setdefault(UPLOADS_KEY, {})
    if uploaded.file_id not in saved:
        path, sha = save_upload(uploaded)
        saved[uploaded.file_id] = (str(path), sha, uploaded.name)
    return saved[uploaded.file_id]


def sensor_form() -> tuple[SensorReading, str | None]:
    """Column names and units for generic IMU CSVs that MoveScope cannot read by itself."""
    with st.expander("Sensor file columns and units (only if MoveScope cannot read the file by itself)"):
        a, b, c = st.columns(3)
        time_col = a.text_input("Time column", placeholder="e.g. timestamp")
        acc_cols = b.text_input("Acceleration columns x,y,z", placeholder="e.g. ax,ay,az")
        gyro_cols = c.text_input("Gyroscope columns x,y,z", placeholder="e.g. gx,gy,gz")
        time_unit = a.selectbox("Time unit", UNITS["time"], index=None, placeholder="from the file")
        acc_unit = b.selectbox("Acceleration unit", UNITS["acc"], index=None, placeholder="from the file")
        gyro_unit = c.selectbox("Gyroscope unit", UNITS["gyro"], index=None, placeholder="from the file")
        device = a.text_input("Body position / device", placeholder="e.g. WAIST, WRIST, Pelvis")
        segment = b.text_input("Segment to judge (multi-sensor files)", placeholder="default: pelvis")
    reading = SensorReading(time_col, acc_cols, gyro_cols, time_unit, acc_unit, gyro_unit, device)
    return reading, segment.strip() or None


def settings_form(reading: SensorReading, segment: str | None) -> FallSettings:
    default_lying = report_errors(lambda: alarm_config().lying_alarm_s, "Reading the alarm settings")
    with st.expander("Analysis settings"):
        imgsz = st.select_slider(
            "Pose image size",
            ("auto", *IMGSZ_CHOICES),
            value="auto",
            help=f"auto sizes the image to the people in the video (most falls found in the benchmark, "
            f"see the README); {REALTIME_IMGSZ} runs in real time on 2 cores but misses more falls of "
            "small or distant people",
        )
        method = st.selectbox(
            "Video fall detector",
            FALL_METHODS,
            help="auto: the learned detector (the rules when its weights are not installed); rules: the "
            "body-state machine; learned: the network trained on the synthetic lab (see its model card); "
            "either: a fall when either finds one",
        )
        lying = st.number_input(
            "Lying after a fall before the alarm (s)",
            1.0,
            600.0,
            value=float(default_lying or 10.0),
            step=1.0,
        )
        opinion = st.checkbox(
            "Ask the fallen-person detector for a second opinion (shown, not counted)",
            value=True,
            help="A pretrained detector; it flags some upright people as fallen, so it does not decide",
        )
    return FallSettings(
        pose=PoseSettings(imgsz=None if imgsz == "auto" else imgsz),
        video=VideoFallConfig(method=method),
        reading=reading,
        sensor_segment=segment,
        second_opinion=opinion,
        lying_alarm_s=lying,
    )


def analyse(video, sensor, fall_settings: FallSettings, progress) -> FallResult:
    """Once per session, inputs and settings (the stage cache on disk serves reruns and other sessions)."""
    results = st.session_state.setdefault(RESULTS_KEY, {})
    key = (video and video[1], sensor and sensor[1], fall_settings)
    if key not in results:
        results[key] = analyse_fall(
            video and video[0], sensor and sensor[0], fall_settings, stage_cache(), progress
        )
        while len(results) > MAX_RESULTS_PER_SESSION:
            results.pop(next(iter(results)))
    return results[key]


def save_section(result: FallResult, video, sensor, annotated, alarms) -> None:
    def save(**where) -> int:
        stored = store_media(video[0], video[1]) if video else store_media(sensor[0], sensor[1])
        media = annotated and str(Path(annotated).relative_to(settings().media_dir))
        record = result.to_record(result.input_name(video and video[2], sensor and sensor[2]), stored, media)
        return save_fall_analysis(database(), record, [a.uid for a in alarms], **where)

    save_to_record(save, "e.g. night 3")


page_header(
    "Falls",
    "Upload a ward video, a body-worn sensor recording (any IMU CSV, SisFall, UMAFall, AIHub, Xsens MVNX) or "
    "both, recorded together. MoveScope follows everyone's body state, finds falls - not sitting, bending or "
    "lying down on purpose - and raises the alarm when someone stays down after a fall.",
)
patient = current_patient()
left, right = st.columns(2)
video_upload = left.file_uploader("Video", type=[s.lstrip(".") for s in VIDEO_SUFFIXES])
sensor_upload = right.file_uploader("Sensor recording", type=list(SENSOR_SUFFIXES))
reading, segment = sensor_form()
fall_settings = report_errors(lambda: settings_form(reading, segment), "Reading the settings")
if fall_settings is None:
    st.stop()
if video_upload is None and sensor_upload is None:
    st.info("Upload a video, a sensor recording or both to start.")
    st.stop()

video, sensor = uploaded_path(video_upload), uploaded_path(sensor_upload)
bar = st.progress(0.0, "Starting the analysis")
result = report_errors(
    lambda: analyse(video, sensor, fall_settings, lambda f, m: bar.progress(f, m)), "The analysis"
)
bar.empty()
if result is None:
    st.stop()
for warning in result.warnings:
    st.warning(warning, icon=":material/warning:")

snapshots = report_errors(lambda: save_snapshots(result), "Saving snapshots") or {}
source = result.input_name(video and video[2], sensor and sensor[2])
alarms = report_errors(
    lambda: raise_alarms(result, (result.input_sha256, fall_settings), patient, source, snapshots),
    "Raising alarms",
)
alarm_banner(alarms or [])
summary_metrics(result)

annotated = None
if result.tracked is not None:
    bar = st.progress(0.0, "Drawing the annotated video")
    annotated = report_errors(
        lambda: annotated_fall_video(result, lambda f, m: bar.progress(f, m)), "Drawing the video"
    )
    bar.empty()
video_column, plot_column = st.columns([2, 3]) if annotated else (None, st.container())
if annotated is not None:
    with video_column:
        start = st.selectbox(
            "Play from",
            [0.0, *(round(e.start_s, 1) for e in result.events)],
            format_func=lambda t: "the start" if t == 0 else f"{t:.1f} s - fall",
        )
        st.video(str(annotated), format=BROWSER_VIDEO_MIME, start_time=int(start))
        st.caption(
            "Green upright, amber sitting or crouching, orange falling, red lying, grey not measurable."
        )
with plot_column:
    st.plotly_chart(timeline_figure(result), width="stretch")

st.subheader("Falls found")
if result.events:
    event_table(result, snapshots)
else:
    st.write("No fall was found.")
if video is not None or sensor is not None:
    save_section(result, video, sensor, annotated, alarms or [])
