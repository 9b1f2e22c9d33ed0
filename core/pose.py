"""Who is in each frame, and where are their joints? YOLO11n-pose on every analysed frame.

The pose model finds people and their 17 COCO keypoints in one pass. Frames are sent in small batches
(4 frames at imgsz 320 run ~50 fps on 2 cores against ~32 fps one at a time) while the next frames decode in
a background thread. ``imgsz`` trades speed for keypoint precision: 320 for real-time fall monitoring, 640
for gait, where a few pixels at the ankle matter; "auto" (the default) sizes the image so that the people
in the video are large enough for the detector. ``stride`` analyses every n-th frame; ``start_s`` and
``end_s`` restrict the analysis to part of the video (the walking trial inside a longer recording).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from core.errors import InputError
from core.models import load_yolo, model_version, restore_threads
from core.types import FramePoses, PoseSequence, VideoInfo
from core.video import iter_frames, read_frame

Progress = Callable[[float, str], None]

IMGSZ_CHOICES = (320, 480, 640, 960, 1280)
# "auto" image size: the smallest choice that makes the tallest person at least this tall in the network's
# input. Measured on real clips (core/synth/noise.py): YOLO11n-pose misses ~50 % of people 75-100 input px
# tall, 4 % at 100-150 px and under 1 % from 150 px; 130 px keeps misses rare (tracking bridges short ones)
# without doubling the image size for people just under 150 px.
AUTO_TARGET_INPUT_PX = 130
AUTO_MAX_IMGSZ = 960  # 1280 runs ~4x slower than 640 on 2 cores: the user may still choose it
AUTO_PROBE_FRAMES = 5
AUTO_PROBE_IMGSZ = 1280
_PREDICT_LOCK = threading.Lock()  # one Ultralytics predictor is shared by all sessions of the app


def choose_imgsz(tallest_px: float | None, long_side_px: int) -> int:
    """The smallest image size at which a person ``tallest_px`` tall is :data:`AUTO_TARGET_INPUT_PX` tall."""
    if not tallest_px:
        return AUTO_MAX_IMGSZ  # nobody found even at the probe's size: as many pixels as auto allows
    for size in IMGSZ_CHOICES:
        if size >= AUTO_MAX_IMGSZ or tallest_px * size / long_side_px >= AUTO_TARGET_INPUT_PX:
            return min(size, AUTO_MAX_IMGSZ)
    return AUTO_MAX_IMGSZ


@dataclass(frozen=True)
class PoseSettings:
    imgsz: int | None = None  # None: chosen per video (:meth:`resolved`)
    stride: int = 1
    conf: float = 0.25  # detection threshold; low so partly occluded patients are still found
    batch: int = 4
    model: str = "yolo11n-pose"
    start_s: float = 0.0  # analyse only this part of the video
    end_s: float | None = None

    def resolved(self, video: VideoInfo) -> PoseSettings:
        """These settings with the image size chosen for ``video`` when it is "auto" (None).

        A quick probe runs the model at :data:`AUTO_PROBE_IMGSZ` on :data:`AUTO_PROBE_FRAMES` frames spread
        over the analysed part and measures the tallest person; see :func:`choose_imgsz`.
        """
        if self.imgsz is not None:
            return self
        start, stop = self.frame_range(video)
        frames = np.linspace(start, stop - 1, AUTO_PROBE_FRAMES).round().astype(int)
        probe = PoseEstimator(replace(self, imgsz=AUTO_PROBE_IMGSZ))
        images = [read_frame(video.path, int(f)) for f in frames]
        tallest = [
            float((p.boxes[:, 3] - p.boxes[:, 1]).max())
            for p in probe.predict(images, list(frames))
            if len(p)
        ]
        chosen = choose_imgsz(float(np.median(tallest)) if tallest else None, max(video.width, video.height))
        return replace(self, imgsz=chosen)

    def frame_range(self, video: VideoInfo) -> tuple[int, int]:
        """First and one-past-last video frame to analyse."""
        start = min(video.frames, max(0, round(self.start_s * video.fps)))
        end = video.frames if self.end_s is None else min(video.frames, round(self.end_s * video.fps))
        if end <= start:
            raise InputError(
                f"the chosen part of the video ({self.start_s:g}-{self.end_s:g} s) is empty; "
                f"the video lasts {video.duration_s:.1f} s"
            )
        return start, end

    def to_dict(self) -> dict:
        return asdict(self)


def frame_poses_from_ultralytics(frame: int, result) -> FramePoses:
    """Convert one Ultralytics ``Results`` into :class:`FramePoses` (the only place that knows its layout)."""
    boxes = result.boxes
    if boxes is None or len(boxes) == 0 or result.keypoints is None:
        return FramePoses.empty(frame)
    keypoints = result.keypoints.data.cpu().numpy()
    if keypoints.shape[-1] == 2:  # model without keypoint confidences
        keypoints = np.concatenate([keypoints, np.ones((*keypoints.shape[:-1], 1), np.float32)], axis=-1)
    return FramePoses(frame, boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), keypoints)


class PoseEstimator:
    """YOLO11n-pose over images or whole videos."""

    def __init__(self, settings: PoseSettings | None = None) -> None:
        self.settings = settings or PoseSettings(imgsz=640)
        if self.settings.imgsz is None:
            raise ValueError("resolve the automatic image size first (PoseSettings.resolved)")
        self.model = load_yolo(self.settings.model)
        self.version = f"{model_version(self.settings.model)} imgsz={self.settings.imgsz}"

    def predict(self, images: list[np.ndarray], frames: list[int]) -> list[FramePoses]:
        """Poses in a batch of BGR images, labelled with their frame numbers."""
        if not images:
            return []
        with _PREDICT_LOCK:
            results = self.model.predict(
                images, imgsz=self.settings.imgsz, conf=self.settings.conf, verbose=False, device="cpu"
            )
            restore_threads()  # the predictor's first set-up reset torch to cores - 1 threads
        return [frame_poses_from_ultralytics(f, r) for f, r in zip(frames, results, strict=True)]

    def run(self, video: VideoInfo, progress: Progress | None = None) -> PoseSequence:
        """Poses on every ``stride``-th frame of ``video``; memory stays flat whatever the video's length."""
        s = self.settings
        start, stop = s.frame_range(video)
        total = max(1, -(-(stop - start) // s.stride))
        out: list[FramePoses] = []
        images: list[np.ndarray] = []
        numbers: list[int] = []
        for number, image in iter_frames(video.path, stride=s.stride, start=start, stop=stop):
            images.append(image)
            numbers.append(number)
            if len(images) == s.batch:
                out.extend(self.predict(images, numbers))
                images, numbers = [], []
                if progress:
                    progress(min(1.0, len(out) / total), f"pose: frame {number + 1} of {video.frames}")
        out.extend(self.predict(images, numbers))
        if progress:
            progress(1.0, f"pose: {len(out)} frames analysed")
        return PoseSequence(video=video, frames=out, stride=s.stride, model=self.version)
