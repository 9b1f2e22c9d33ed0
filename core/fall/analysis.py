"""Did this patient fall, when, and were they left lying? Video and body-worn sensors, judged together.

Clinical question: *a ward camera or a sensor the patient wore recorded a period of time - was there a fall,
and would MoveScope have raised the alarm?* :func:`analyse_fall` takes a video, a sensor recording or both:

- the video goes through the shared front of every video analysis (:func:`core.pipeline.track_video`:
  pose, tracking, each cached), then the body-state machine of :mod:`core.fall.video` per tracked person,
  and optionally the fallen-person detector of :mod:`core.fall.second_opinion` as a displayed second
  opinion;
- the sensor file is read by :func:`core.sensors.read_sensor_file` (any supported format) and judged by
  the single-device detector of :mod:`core.fall.sensor`.

Fusion is deliberately simple, because each detector is already built not to cry wolf: a fall found by
either modality is a fall; a video fall and a sensor fall whose moments lie within :data:`FUSION_WINDOW_S`
are one event seen by both. The probability is the larger of the modalities' probabilities (each a 0-1
score, 0.5 at its detector's threshold, not calibrated). Recordings are taken to start together.

Alarms follow the CCTV seed: a fall followed by lying for ``lying_alarm_s`` (default 10 s). For a recorded
video the alarm is the one that *would have been raised* at that moment of the recording; the page and the
CLI store it (:mod:`core.storage.alarms`) and deliver it through :mod:`core.alarms` when channels are
configured.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import core
from core.alarms import LYING_ALARM_S, FallAlarm
from core.cache import StageCache, file_sha256
from core.errors import InputError
from core.fall.second_opinion import EVERY_S, MODEL, SecondOpinion, second_opinion
from core.fall.sensor import SensorFallConfig, SensorFallResult, detect_falls_in_recording
from core.fall.video import (
    BODY_STATES,
    VideoFallConfig,
    VideoFallEvent,
    VideoFallResult,
    detect_falls_in_tracks,
    resolve_method,
)
from core.models import model_version
from core.pipeline import TrackedVideo, track_video
from core.pose import PoseSettings
from core.sensors import read_sensor_file, recording_summary
from core.storage.records import AnalysisRecord, ResultRow
from core.tracking import TrackingSettings

Progress = Callable[[float, str], None]

# Body states on the annotated video (BGR): calm to alarming.
STATE_COLOURS: dict[str, tuple[int, int, int]] = {
    "upright": (80, 175, 40),  # green
    "sitting": (0, 190, 240),  # amber
    "falling": (0, 120, 255),  # orange
    "lying": (40, 40, 220),  # red
    "unknown": (160, 160, 160),  # grey
}
SNAPSHOT_HEIGHT_PX = 240
REALTIME_IMGSZ = 320  # the pose image size that runs in real time on 2 cores (the CCTV seed's 30 fps bar)
FUSION_WINDOW_S = 2.0  # a video fall and a sensor fall this close (impact to impact) are the same fall
TIMELINE_STEP_S = 0.1
MODALITIES = ("video", "sensor")


@dataclass(frozen=True)
class SensorReading:
    """How to read a sensor file whose columns or units MoveScope cannot recognise by itself."""

    time_col: str | None = None
    acc_cols: str | None = None  # "x,y,z" column names
    gyro_cols: str | None = None
    time_unit: str | None = None
    acc_unit: str | None = None
    gyro_unit: str | None = None
    device: str | None = None  # body position (UMAFall) or the device's label

    @classmethod
    def from_options(cls, options: dict) -> SensorReading:
        """From :func:`core.sensors.reading_options` output (the CLI flags)."""
        columns = options.get("column_map") or {}
        return cls(
            columns.get("time"),
            columns.get("acc"),
            columns.get("gyro"),
            options.get("time_unit"),
            options.get("acc_unit"),
            options.get("gyro_unit"),
            options.get("device"),
        )

    def kwargs(self) -> dict:
        """Keyword arguments of :func:`core.sensors.read_sensor_file`."""
        column_map = {
            role: value
            for role, value in (("time", self.time_col), ("acc", self.acc_cols), ("gyro", self.gyro_cols))
            if value
        }
        return {
            "column_map": column_map or None,
            "time_unit": self.time_unit or None,
            "acc_unit": self.acc_unit or None,
            "gyro_unit": self.gyro_unit or None,
            "device": self.device or None,
        }


@dataclass(frozen=True)
class FallSettings:
    """Everything that shapes a fall analysis; stored with it for provenance."""

    # auto image size: the benchmark's most accurate setting; REALTIME_IMGSZ where 30 fps matters more
    pose: PoseSettings = field(default_factory=PoseSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    video: VideoFallConfig = field(default_factory=VideoFallConfig)
    sensor: SensorFallConfig = field(default_factory=SensorFallConfig)
    reading: SensorReading = field(default_factory=SensorReading)
    sensor_segment: str | None = None
    second_opinion: bool = True
    lying_alarm_s: float = LYING_ALARM_S

    def __post_init__(self) -> None:
        if not (0 < self.lying_alarm_s <= 3600):
            raise InputError(
                f"The lying time before an alarm must be 0-3600 s, got {self.lying_alarm_s:g} s."
            )

    @property
    def video_config(self) -> VideoFallConfig:
        return replace(self.video, lying_alarm_s=self.lying_alarm_s)

    @property
    def sensor_config(self) -> SensorFallConfig:
        return replace(self.sensor, lying_alarm_s=self.lying_alarm_s)

    def to_dict(self) -> dict:
        document = asdict(self)
        document["video"] = self.video_config.to_dict()
        document["sensor"] = self.sensor_config.to_dict()
        return document


@dataclass(frozen=True)
class FallEvent:
    """One fall, as the modalities saw it. Times are seconds from the start of the recording(s)."""

    start_s: float
    end_s: float  # impact: the body is down
    modalities: tuple[str, ...]
    score: float
    alarm_s: float | None = None  # when the lying alarm would have been raised
    track_id: int | None = None  # the person in the video
    frame: int | None = None  # video frame at the impact (snapshot)
    box: tuple[float, float, float, float] | None = None
    lying_s: float | None = None
    kind: str = "fall"

    @property
    def alarm(self) -> bool:
        return self.alarm_s is not None

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "kind": self.kind,
            "alarm": self.alarm,
            "alarm_s": None if self.alarm_s is None else round(self.alarm_s, 3),
            "modalities": list(self.modalities),
            "score": round(self.score, 4),
            "track_id": self.track_id,
            "frame": self.frame,
            "box": None if self.box is None else [round(v, 1) for v in self.box],
            "lying_s": None if self.lying_s is None else round(self.lying_s, 2),
        }


def fuse_events(
    video_events: list[VideoFallEvent], sensor_result: SensorFallResult | None
) -> list[FallEvent]:
    """Video and sensor falls as one list; a pair closer than :data:`FUSION_WINDOW_S` is one event."""
    events = [
        FallEvent(
            e.start_s,
            e.end_s,
            ("video",),
            e.score,
            e.alarm_s,
            e.track_id,
            e.frame,
            e.box,
            round(e.lying_s, 3),
        )
        for e in video_events
    ]
    for s in sensor_result.events if sensor_result is not None else ():
        match = next(
            (
                i
                for i, e in enumerate(events)
                if "sensor" not in e.modalities and abs(e.end_s - s.impact_s) <= FUSION_WINDOW_S
            ),
            None,
        )
        if match is None:
            events.append(FallEvent(s.start_s, s.impact_s, ("sensor",), s.score, s.alarm_s))
            continue
        e = events[match]
        alarms = [a for a in (e.alarm_s, s.alarm_s) if a is not None]
        events[match] = replace(
            e,
            start_s=min(e.start_s, s.start_s),
            modalities=("video", "sensor"),
            score=max(e.score, s.score),
            alarm_s=min(alarms) if alarms else None,
        )
    return sorted(events, key=lambda e: e.end_s)


@dataclass
class FallResult:
    """A fall analysis of a video, a sensor recording or both."""

    settings: FallSettings
    tracked: TrackedVideo | None = None
    video: VideoFallResult | None = None
    opinion: SecondOpinion | None = None
    sensor: SensorFallResult | None = None
    sensor_summary: dict | None = None
    sensor_sha256: str | None = None
    events: list[FallEvent] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def fall(self) -> bool:
        return bool(self.events)

    @property
    def alarm(self) -> bool:
        return any(e.alarm for e in self.events)

    def modality_probability(self, name: str) -> float | None:
        if name == "video":
            return None if self.video is None else self.video.probability
        if name == "sensor":
            return None if self.sensor is None else self.sensor.probability
        raise ValueError(name)

    @property
    def probability(self) -> float:
        values = [p for p in (self.modality_probability(m) for m in MODALITIES) if p is not None]
        return max(values, default=0.0)

    @property
    def duration_s(self) -> float:
        durations = []
        if self.tracked is not None:
            durations.append(self.tracked.video.duration_s)
        if self.sensor is not None and len(self.sensor.time_s):
            durations.append(float(self.sensor.time_s[-1]))
        return max(durations, default=0.0)

    @property
    def input_sha256(self) -> str:
        """The video's hash, the sensor file's, or (both given) the hash of the two together."""
        hashes = [h for h in (self.tracked and self.tracked.sha256, self.sensor_sha256) if h]
        if len(hashes) == 1:
            return hashes[0]
        return hashlib.sha256("+".join(hashes).encode()).hexdigest()

    def focus_track(self) -> int | None:
        """The person the timeline follows: the first who fell, else the most fall-like, else the longest."""
        if self.video is None or not self.video.timelines:
            return None
        falls = [e.track_id for e in self.events if e.track_id is not None]
        if falls:
            return falls[0]
        best = max(
            self.video.timelines,
            key=lambda t: (float(t.probability.max()) if len(t.probability) else 0.0, len(t.frames)),
        )
        return best.track_id

    def timeline(self, step_s: float = TIMELINE_STEP_S) -> dict:
        """Synchronised series for plots: per-modality probability, the focus person's state, alarms."""
        grid = np.arange(0.0, max(self.duration_s, step_s) + 1e-9, step_s)
        out: dict = {"time_s": grid, "alarms_s": [e.alarm_s for e in self.events if e.alarm_s is not None]}
        if self.video is not None:
            probability = np.zeros(len(grid))
            state = np.full(len(grid), np.nan)
            focus = self.focus_track()
            for t in self.video.timelines:
                index = np.searchsorted(t.time_s, grid, side="right") - 1
                # a person's last known state holds a couple of frames, not across their absence
                inside = (index >= 0) & (grid <= t.time_s[-1] + 2.0 / self.video.fps)
                values = np.where(inside, t.probability[np.clip(index, 0, None)], 0.0)
                probability = np.maximum(probability, values)
                if t.track_id == focus:
                    state = np.where(inside, t.state[np.clip(index, 0, None)].astype(float), np.nan)
                    for name in ("impact", "down"):  # the learned detector's outputs, when it ran
                        curve = getattr(t, name)
                        if curve is not None:
                            out[f"learned_{name}"] = np.where(inside, curve[np.clip(index, 0, None)], np.nan)
            out["video_probability"] = probability
            out["body_state"] = state
            out["focus_track"] = focus
        if self.opinion is not None and len(self.opinion.frames) and self.opinion.scores:
            stacked = np.array(list(self.opinion.scores.values()))
            seen = np.isfinite(stacked).any(axis=0)
            out["detector_time_s"] = self.opinion.time_s
            out["detector_probability"] = np.where(
                seen, np.where(np.isfinite(stacked), stacked, -1).max(axis=0), np.nan
            )
        if self.sensor is not None:
            out["sensor_probability"] = np.interp(
                grid, self.sensor.time_s, self.sensor.score, left=0, right=0
            )
        return out

    def alarms(
        self, patient: str, camera: str | None = None, snapshots: dict[int, str] | None = None
    ) -> list[FallAlarm]:
        """The alarms this analysis raises, one per fall followed by lying (``snapshots``: event index ->
        stored snapshot)."""
        snapshots = snapshots or {}
        out = []
        for i, e in enumerate(self.events):
            if e.alarm_s is None:
                continue
            who = patient or "A person"
            seen = " and ".join(e.modalities)
            out.append(
                FallAlarm(
                    patient=patient or "unknown patient",
                    time=datetime.now(UTC),
                    kind="fall",
                    camera=camera,
                    snapshot=snapshots.get(i),
                    recording_time_s=round(e.alarm_s, 3),
                    message=(
                        f"{who} fell at {e.end_s:.1f} s of the recording (seen by {seen}) and was still "
                        f"lying {self.settings.lying_alarm_s:.0f} s later."
                    ),
                )
            )
        return out

    # -- the JSON contract and the database record --
    def model_versions(self) -> dict[str, str]:
        versions = {}
        if self.tracked is not None:
            versions["pose"] = self.tracked.poses.model
        if self.opinion is not None:
            versions["fallen_person"] = self.opinion.model
        if self.video is not None and resolve_method(self.video.config.method) in ("learned", "either"):
            from core.fall import learned

            versions["fall_video"] = learned.version()
        return versions

    def _video_document(self) -> dict:
        assert self.video is not None and self.tracked is not None
        document = {
            "probability": round(self.video.probability, 4),
            "fall": self.video.fall,
            "alarm": self.video.alarm,
            "events": [e.to_dict() for e in self.video.events],
            "people": len(self.video.timelines),
            "body_states": {str(t.track_id): _state_runs(t) for t in self.video.timelines},
            "config": self.settings.video_config.to_dict(),
        }
        if self.opinion is not None:
            document["second_opinion"] = self.opinion.to_dict()
        return document

    def to_document(self) -> dict:
        """The JSON contract of ``python -m core fall`` (add fields, never rename)."""
        modalities = {}
        document: dict = {"movescope_version": core.__version__, "kind": "fall"}
        if self.tracked is not None:
            modalities["video"] = self._video_document()
            document["video"] = {**self.tracked.video.to_dict(), "sha256": self.tracked.sha256}
            document["tracks"] = [t.to_dict() for t in self.tracked.tracks]
        if self.sensor is not None:
            modalities["sensor"] = self.sensor.to_dict()
            document["sensor"] = {**(self.sensor_summary or {}), "sha256": self.sensor_sha256}
        document.update(
            {
                "fall": self.fall,
                "probability": round(self.probability, 4),
                "alarm": self.alarm,
                "events": [e.to_dict() for e in self.events],
                "modalities": modalities,
                "lying_alarm_s": self.settings.lying_alarm_s,
                "settings": self.settings.to_dict(),
                "models": self.model_versions(),
                "warnings": self.warnings,
                "timings": {
                    **{k: round(v, 3) for k, v in self.timings.items()},
                    "cached": list(self.tracked.cached_stages) if self.tracked else [],
                },
            }
        )
        return document

    def input_name(self, video_name: str | None, sensor_name: str | None) -> str:
        return " + ".join(n for n in (video_name, sensor_name) if n) or "fall analysis"

    def to_record(
        self, input_name: str, input_path: str | None = None, annotated_path: str | None = None
    ) -> AnalysisRecord:
        """What the database keeps of this analysis (kind ``fall``; the results rows below)."""
        document = self.to_document()
        first = self.events[0] if self.events else None
        lying = [e.lying_s for e in self.events if e.lying_s is not None]
        results = [
            ResultRow("Fall", 1.0 if self.fall else 0.0, "yes=1"),
            ResultRow("Fall probability", round(self.probability, 4), "0-1"),
            ResultRow("Fall events", float(len(self.events)), "count", n=len(self.events)),
            ResultRow("Alarms", float(sum(e.alarm for e in self.events)), "count"),
            ResultRow("First fall time", None if first is None else round(first.end_s, 3), "s"),
            ResultRow("Longest lie after a fall", max(lying) if lying else None, "s"),
        ]
        for name in MODALITIES:
            p = self.modality_probability(name)
            if p is not None:
                results.append(ResultRow(f"Fall probability ({name})", round(p, 4), "0-1"))
        return AnalysisRecord(
            kind="fall",
            input_name=input_name,
            input_sha256=self.input_sha256,
            document=document,
            settings=self.settings.to_dict(),
            model_versions=self.model_versions(),
            timings=document["timings"],
            input_path=input_path,
            annotated_path=annotated_path,
            patient_track_id=self.focus_track(),
            quality_usable=not self.warnings,
            results=results,
        )


def _state_runs(timeline) -> list[list]:
    """Body states as ``[start_s, end_s, state]`` runs (compact for JSON)."""
    runs: list[list] = []
    for t, code in zip(timeline.time_s, timeline.state, strict=True):
        name = BODY_STATES[int(code)]
        if runs and runs[-1][2] == name:
            runs[-1][1] = round(float(t), 3)
        else:
            runs.append([round(float(t), 3), round(float(t), 3), name])
    return runs


_PROGRESS = {"video": (0.0, 0.85), "opinion": (0.85, 0.97)}


def _within(progress: Progress | None, stage: str) -> Progress | None:
    if progress is None:
        return None
    start, end = _PROGRESS[stage]
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


def analyse_fall(
    video: str | Path | None = None,
    sensor: str | Path | None = None,
    settings: FallSettings | None = None,
    cache: StageCache | None = None,
    progress: Progress | None = None,
) -> FallResult:
    """Judge a video, a sensor recording or both for falls (see the module docstring)."""
    if video is None and sensor is None:
        raise InputError("Give a video, a sensor recording, or both, to look for falls.")
    settings = settings or FallSettings()
    cache = cache or StageCache(None)
    started = time.perf_counter()
    result = FallResult(settings)
    if video is not None:
        tracked = track_video(video, settings.pose, settings.tracking, cache, _within(progress, "video"))
        result.tracked = tracked
        result.timings.update(tracked.timings)
        t0 = time.perf_counter()
        video_info = tracked.video
        result.video = detect_falls_in_tracks(
            tracked.tracks,
            video_info.fps,
            video_info.frames,
            settings.video_config,
            (video_info.width, video_info.height),
        )
        result.timings["body_states"] = time.perf_counter() - t0
        if not tracked.tracks:
            result.warnings.append(
                f"Nobody was found in {Path(video).name}, so the video could not show a fall. If people "
                "appear small, analyse with a larger pose image size."
            )
        if settings.second_opinion and tracked.tracks:
            if progress:
                progress(_PROGRESS["opinion"][0], "asking the fallen-person detector")
            key = {
                "pose": settings.pose.to_dict(),
                "tracking": settings.tracking.to_dict(),
                "fallen_person": {"every_s": EVERY_S, "model": model_version(MODEL)},
            }
            t0 = time.perf_counter()
            result.opinion, hit = cache.get_or_compute(
                tracked.sha256,
                "fallen-person",
                key,
                lambda: second_opinion(
                    video,
                    tracked.video.fps,
                    tracked.tracks,
                    progress=_within(progress, "opinion"),
                    total_frames=tracked.video.frames,
                ),
            )
            result.timings["second_opinion"] = time.perf_counter() - t0
            if hit:
                tracked.cached_stages.append("second_opinion")
    if sensor is not None:
        if progress:
            progress(0.97, "reading the sensor recording")
        t0 = time.perf_counter()
        recording = read_sensor_file(sensor, **settings.reading.kwargs())
        result.sensor = detect_falls_in_recording(recording, settings.sensor_segment, settings.sensor_config)
        result.sensor_summary = recording_summary(recording)
        result.sensor_sha256 = file_sha256(sensor)
        result.timings["sensor"] = time.perf_counter() - t0
    result.events = fuse_events(result.video.events if result.video else [], result.sensor)
    result.timings["total"] = time.perf_counter() - started
    if result.tracked is not None and result.timings["total"] > 0:
        result.timings["fps"] = len(result.tracked.poses.frames) / result.timings["total"]
    if progress:
        progress(1.0, "done")
    return result


def state_name(code: float) -> str | None:
    """Body state name of a timeline code (NaN: nobody followed at that moment)."""
    return None if not np.isfinite(code) else BODY_STATES[int(code)]


# --- what the page shows and stores ---------------------------------------------------------------------


def annotated_fall_video(result: FallResult, progress: Progress | None = None) -> Path | None:
    """The video with everyone coloured by body state, in the media folder (rendered once per settings)."""
    from core.annotate import render_annotated_video
    from core.cache import settings_digest
    from core.settings import settings

    if result.tracked is None or result.video is None:
        return None
    video = result.tracked.video
    key = settings_digest({"fall": result.settings.to_dict()})
    path = settings().media_dir / "annotated" / f"{result.tracked.sha256}-fall-{key}.webm"
    if path.is_file():
        return path
    timelines = {t.track_id: t for t in result.video.timelines}

    def style(track, i: int) -> tuple[tuple[int, int, int], str]:
        timeline = timelines.get(track.id)
        state = BODY_STATES[int(timeline.state[i])] if timeline is not None else "unknown"
        return STATE_COLOURS[state], f"#{track.id} {state}"

    tmp = path.with_name(path.stem + ".part.webm")
    render_annotated_video(
        video.path, video.fps, video.width, result.video.tracks, None, tmp, progress, video.frames, style
    )
    tmp.replace(path)
    return path


def save_snapshots(result: FallResult) -> dict[int, str]:
    """A JPEG crop of the person at each video fall's impact, in the media folder.

    Returns event index -> path relative to the media folder (what alarms and the database refer to).
    """
    import cv2

    from core.annotate import person_crop
    from core.settings import settings

    out: dict[int, str] = {}
    if result.tracked is None:
        return out
    folder = settings().media_dir / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    for i, event in enumerate(result.events):
        if event.frame is None or event.box is None:
            continue
        name = f"snapshots/{result.tracked.sha256[:16]}-f{event.frame}-t{event.track_id}.jpg"
        target = settings().media_dir / name
        if not target.is_file():
            crop = person_crop(result.tracked.video.path, event.frame, event.box, SNAPSHOT_HEIGHT_PX)
            tmp = target.with_suffix(".part.jpg")
            cv2.imwrite(str(tmp), crop)
            tmp.replace(target)
        out[i] = name
    return out
