"""One video in, the patient's analysis out: the stages composed, cached and timed.

``probe -> content hash -> pose -> tracking -> patient selection -> (gait ...)``. Each stage is a plain
function on plain data (see :mod:`core.types`); this module only wires them, reports progress through one
callback ``progress(fraction 0-1, message)`` and caches every stage in :class:`~core.cache.StageCache` on the
video's content hash plus the settings of that stage and the stages before it. Overriding the patient or
changing a gait setting therefore never re-runs pose extraction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import core
from core.cache import StageCache, file_sha256
from core.errors import InputError
from core.gait import learned
from core.gait.analysis import GaitResult, GaitSettings, analyse_gait
from core.pose import PoseEstimator, PoseSettings
from core.selection import select_patient
from core.storage.records import AnalysisRecord, ResultRow
from core.tracking import TrackingSettings, track_people
from core.types import PatientSelection, PoseSequence, Track, VideoInfo
from core.video import probe_video

Progress = Callable[[float, str], None]

# Share of the progress bar each stage fills (pose dominates the time).
_PROGRESS = {"probe": (0.0, 0.02), "hash": (0.02, 0.05), "pose": (0.05, 0.92), "tracking": (0.92, 0.96)}


def _within(progress: Progress | None, stage: str) -> Progress | None:
    if progress is None:
        return None
    start, end = _PROGRESS[stage]
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything that shapes an analysis of one video; stored with the analysis for provenance."""

    pose: PoseSettings = field(default_factory=PoseSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    patient_override: int | None = None
    gait: GaitSettings = field(default_factory=GaitSettings)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class VideoAnalysis:
    """The result of running the pipeline on one video."""

    video: VideoInfo
    sha256: str
    settings: AnalysisSettings
    poses: PoseSequence
    tracks: list[Track]
    selection: PatientSelection
    timings: dict[str, float]
    cached_stages: list[str]
    gait: GaitResult | None = None

    @property
    def patient(self) -> Track | None:
        return next((t for t in self.tracks if t.id == self.selection.track_id), None)

    def reselect(self, override: int | None) -> VideoAnalysis:
        """The same analysis with the patient chosen by the user (``None``: the automatic choice again)."""
        try:
            selection = select_patient(
                self.tracks,
                self.video.fps,
                len(self.poses.frames),
                override=override,
                image_width=self.video.width,
            )
        except ValueError as error:
            raise InputError(str(error)) from error
        settings = replace(self.settings, patient_override=override)
        analysis = replace(self, selection=selection, settings=settings)
        return replace(analysis, gait=gait_of(analysis.patient, self.video, settings.gait))

    def with_gait_settings(self, gait: GaitSettings) -> VideoAnalysis:
        """The same tracks and patient, gait recomputed (a new calibration or event method)."""
        settings = replace(self.settings, gait=gait)
        return replace(self, settings=settings, gait=gait_of(self.patient, self.video, gait))

    def to_record(
        self, input_name: str, input_path: str | None, annotated_path: str | None
    ) -> AnalysisRecord:
        """What the database keeps of this analysis."""
        document = self.to_document()
        return AnalysisRecord(
            kind="gait",
            input_name=input_name,
            input_sha256=self.sha256,
            document=document,
            settings=self.settings.to_dict(),
            model_versions=self.model_versions(),
            timings=document["timings"],
            input_path=input_path,
            annotated_path=annotated_path,
            patient_track_id=self.selection.track_id,
            selection_manual=self.selection.manual,
            quality_usable=document["quality"]["usable"],
            results=[
                ResultRow(name, p["value"], p["unit"], p["uncertainty"], p["n"])
                for name, p in document["parameters"].items()
            ],
        )

    def gait_document(self) -> dict:
        if self.gait is None:
            reason = "nobody to analyse" if self.patient is None else "the patient is seen too briefly"
            return {"parameters": {}, "quality": {"usable": False, "reasons": [reason], "warnings": []}}
        return self.gait.to_dict()

    def model_versions(self) -> dict[str, str]:
        versions = {"pose": self.poses.model}
        if self.gait is not None and self.gait.method == "learned":
            versions["gait_events"] = learned.version()
        return versions

    def to_document(self) -> dict:
        """The JSON contract of ``python -m core gait`` (see the README; add fields, never rename)."""
        return {
            "movescope_version": core.__version__,
            "kind": "gait",
            "video": {**self.video.to_dict(), "sha256": self.sha256},
            "settings": self.settings.to_dict(),
            "models": self.model_versions(),
            "tracks": [t.to_dict() for t in self.tracks],
            "patient": self.selection.to_dict(),
            **self.gait_document(),
            "timings": {**{k: round(v, 3) for k, v in self.timings.items()}, "cached": self.cached_stages},
        }


def gait_of(patient: Track | None, video: VideoInfo, settings: GaitSettings) -> GaitResult | None:
    """Gait of the chosen patient; None when nobody is chosen or the track is too short to analyse."""
    if patient is None or len(patient) < 10:
        return None
    return analyse_gait(patient, video, settings)


@dataclass
class TrackedVideo:
    """The shared front of every video analysis: the video, its poses and everyone's tracks."""

    video: VideoInfo
    sha256: str
    poses: PoseSequence
    tracks: list[Track]
    timings: dict[str, float]
    cached_stages: list[str]
    pose_settings: PoseSettings  # as used: an "auto" image size resolved for this video


class _Timer:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def __call__(self, stage: str, fn):
        t0 = time.perf_counter()
        value = fn()
        self.timings[stage] = time.perf_counter() - t0
        return value


def track_video(
    path: str | Path,
    pose: PoseSettings,
    tracking: TrackingSettings,
    cache: StageCache | None = None,
    progress: Progress | None = None,
) -> TrackedVideo:
    """Probe, fingerprint, pose and tracking, each stage cached (gait and fall analyses both start here)."""
    cache = cache or StageCache(None)
    timings: dict[str, float] = {}
    cached: list[str] = []
    timed = _Timer(timings)
    if progress:
        progress(0.0, "checking the video")
    video = timed("probe", lambda: probe_video(path))
    if progress:
        progress(_PROGRESS["hash"][0], "fingerprinting the video")
    sha = timed("hash", lambda: file_sha256(path))

    requested = {"pose": pose.to_dict()}
    pose, _ = timed(
        "imgsz", lambda: cache.get_or_compute(sha, "imgsz", requested, lambda: pose.resolved(video))
    )
    pose_key = {"pose": pose.to_dict()}
    poses, hit = timed(
        "pose",
        lambda: cache.get_or_compute(
            sha, "pose", pose_key, lambda: PoseEstimator(pose).run(video, _within(progress, "pose"))
        ),
    )
    if hit:
        cached.append("pose")
    # a cached result may come from a copy of the same video stored under another name
    poses = replace(poses, video=video)

    if progress:
        progress(_PROGRESS["tracking"][0], "following people through the video")
    track_key = {**pose_key, "tracking": tracking.to_dict()}
    tracks, hit = timed(
        "tracking",
        lambda: cache.get_or_compute(
            sha, "tracks", track_key, lambda: track_people(poses.frames, tracking, video.fps)
        ),
    )
    if hit:
        cached.append("tracking")
    return TrackedVideo(video, sha, poses, tracks, timings, cached, pose)


def analyse_video(
    path: str | Path,
    settings: AnalysisSettings | None = None,
    cache: StageCache | None = None,
    progress: Progress | None = None,
) -> VideoAnalysis:
    """Run probe, pose, tracking, patient selection and gait analysis on the video at ``path``."""
    settings = settings or AnalysisSettings()
    started = time.perf_counter()
    tracked = track_video(path, settings.pose, settings.tracking, cache, progress)
    video, tracks, poses, timings = tracked.video, tracked.tracks, tracked.poses, tracked.timings
    timed = _Timer(timings)
    if not tracks:
        raise InputError(
            f"Nobody was found in {Path(path).name}. Check that the patient is fully visible; "
            "if people appear small in the frame, analyse with a larger image size."
        )

    if progress:
        progress(_PROGRESS["tracking"][1], "choosing the patient")
    try:
        selection = timed(
            "selection",
            lambda: select_patient(
                tracks,
                video.fps,
                len(poses.frames),
                override=settings.patient_override,
                image_width=video.width,
            ),
        )
    except ValueError as error:
        raise InputError(str(error)) from error
    patient = next((t for t in tracks if t.id == selection.track_id), None)
    gait = timed("gait", lambda: gait_of(patient, video, settings.gait))
    timings["total"] = time.perf_counter() - started
    timings["fps"] = len(poses.frames) / timings["total"] if timings["total"] > 0 else 0.0
    if progress:
        progress(1.0, "done")
    used = replace(settings, pose=tracked.pose_settings)  # the image size chosen when it was "auto"
    return VideoAnalysis(
        video, tracked.sha256, used, poses, tracks, selection, timings, tracked.cached_stages, gait
    )
