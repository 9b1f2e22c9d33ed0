"""Who is in each frame, and where are their joints? YOLO11n-pose on every analysed frame.

The pose model finds people and their 17 COCO keypoints in one pass. Frames are sent in small batches
(4 frames at imgsz 320 run ~50 fps on 2 cores against ~32 fps one at a time) while the next frames decode in
a background thread. ``imgsz`` trades speed for keypoint precision: 320 for real-time fall monitoring, 640
for gait, where a few pixels at the ankle matter. ``stride`` analyses every n-th frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from core.models import load_yolo, model_version, restore_threads
from core.types import FramePoses, PoseSequence, VideoInfo
from core.video import iter_frames

Progress = Callable[[float, str], None]

IMGSZ_CHOICES = (320, 480, 640, 960)
_PREDICT_LOCK = threading.Lock()  # one Ultralytics predictor is shared by all sessions of the app


@dataclass(frozen=True)
class PoseSettings:
    imgsz: int = 640
    stride: int = 1
    conf: float = 0.25  # detection threshold; low so partly occluded patients are still found
    batch: int = 4
    model: str = "yolo11n-pose"

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
        self.settings = settings or PoseSettings()
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
        total = max(1, -(-video.frames // s.stride))
        out: list[FramePoses] = []
        images: list[np.ndarray] = []
        numbers: list[int] = []
        for number, image in iter_frames(video.path, stride=s.stride):
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
