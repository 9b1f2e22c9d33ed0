"""The small set of data types that flow between MoveScope's stages.

Conventions (one for the whole code base):
- Keypoints follow COCO-17 order (:data:`KEYPOINT_NAMES`); a keypoint row is ``(x_px, y_px, confidence)``
  in the pixel grid of the original video. A missing joint has confidence 0.
- Boxes are ``(x1, y1, x2, y2)`` in pixels of the original video.
- Frame numbers index the original video (0-based), whatever frame stride the pose stage used.
- Times are seconds, lengths centimetres, angles degrees. A name carries its unit where it is not one of
  those (``_px``, ``_ms2``, ``_rad_s``).

Shapes are validated once, when an object is built; stages after that trust them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
KP = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
N_KEYPOINTS = len(KEYPOINT_NAMES)

# Limbs drawn between keypoints (COCO skeleton), as index pairs.
SKELETON: tuple[tuple[int, int], ...] = (
    (KP["left_ankle"], KP["left_knee"]),
    (KP["left_knee"], KP["left_hip"]),
    (KP["right_ankle"], KP["right_knee"]),
    (KP["right_knee"], KP["right_hip"]),
    (KP["left_hip"], KP["right_hip"]),
    (KP["left_shoulder"], KP["left_hip"]),
    (KP["right_shoulder"], KP["right_hip"]),
    (KP["left_shoulder"], KP["right_shoulder"]),
    (KP["left_shoulder"], KP["left_elbow"]),
    (KP["right_shoulder"], KP["right_elbow"]),
    (KP["left_elbow"], KP["left_wrist"]),
    (KP["right_elbow"], KP["right_wrist"]),
    (KP["left_eye"], KP["right_eye"]),
    (KP["nose"], KP["left_eye"]),
    (KP["nose"], KP["right_eye"]),
    (KP["left_eye"], KP["left_ear"]),
    (KP["right_eye"], KP["right_ear"]),
)


def _as_array(value, shape_tail: tuple[int, ...], name: str, dtype=np.float32) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.ndim != 1 + len(shape_tail) or array.shape[1:] != shape_tail:
        raise ValueError(f"{name} must have shape (n, {', '.join(map(str, shape_tail))}), got {array.shape}")
    return array


@dataclass(frozen=True)
class VideoInfo:
    """What a video file is, as probed before any analysis."""

    path: str
    fps: float
    frames: int
    width: int
    height: int
    codec: str
    size_bytes: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "fps": self.fps,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "duration_s": round(self.duration_s, 3),
            "codec": self.codec,
            "size_bytes": self.size_bytes,
        }


@dataclass
class FramePoses:
    """Everyone the pose model found in one video frame."""

    frame: int
    boxes: np.ndarray  # (n, 4) x1, y1, x2, y2 px
    scores: np.ndarray  # (n,) detection confidence 0-1
    keypoints: np.ndarray  # (n, 17, 3) x_px, y_px, confidence

    def __post_init__(self) -> None:
        self.boxes = _as_array(self.boxes, (4,), "boxes")
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.keypoints = _as_array(self.keypoints, (N_KEYPOINTS, 3), "keypoints")
        if not (len(self.boxes) == len(self.scores) == len(self.keypoints)):
            raise ValueError("boxes, scores and keypoints must describe the same people")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, frame: int) -> FramePoses:
        return cls(frame, np.zeros((0, 4)), np.zeros(0), np.zeros((0, N_KEYPOINTS, 3)))


@dataclass
class PoseSequence:
    """Pose-model output over a whole video: one :class:`FramePoses` per analysed frame."""

    video: VideoInfo
    frames: list[FramePoses]
    stride: int  # every ``stride``-th video frame was analysed
    model: str  # model name and settings, for provenance

    @property
    def fps(self) -> float:
        """Rate of the analysed frames (video fps / stride)."""
        return self.video.fps / self.stride

    def people_per_frame(self) -> np.ndarray:
        return np.array([len(f) for f in self.frames], dtype=int)


@dataclass
class Track:
    """One person followed through the video."""

    id: int
    frames: np.ndarray  # (m,) video frame numbers, increasing
    boxes: np.ndarray  # (m, 4) px
    scores: np.ndarray  # (m,)
    keypoints: np.ndarray  # (m, 17, 3)

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        self.boxes = _as_array(self.boxes, (4,), "boxes")
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.keypoints = _as_array(self.keypoints, (N_KEYPOINTS, 3), "keypoints")
        n = len(self.frames)
        if not (len(self.boxes) == len(self.scores) == len(self.keypoints) == n):
            raise ValueError("a track's frames, boxes, scores and keypoints must have the same length")
        if n > 1 and np.any(np.diff(self.frames) <= 0):
            raise ValueError("a track's frames must increase")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def centers(self) -> np.ndarray:
        """(m, 2) box centres in px."""
        return np.column_stack(
            [(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2]
        )

    @property
    def heights_px(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]

    def box_at(self, frame: int) -> np.ndarray | None:
        i = np.searchsorted(self.frames, frame)
        if i < len(self.frames) and self.frames[i] == frame:
            return self.boxes[i]
        return None

    def to_dict(self) -> dict:
        """JSON contract: ``id`` and ``boxes`` as ``[frame, x1, y1, x2, y2]`` rows."""
        rows = [
            [int(f), *(round(float(v), 1) for v in box)]
            for f, box in zip(self.frames, self.boxes, strict=True)
        ]
        return {"id": int(self.id), "frames": len(self.frames), "boxes": rows}


@dataclass(frozen=True)
class Candidate:
    """How much one track looks like the patient walking, with the numbers behind the judgement."""

    track_id: int
    score: float  # 0-1, higher = more like a person walking a path
    seconds: float  # how long the track is visible
    coverage: float  # share of the analysed frames the track is visible in (0-1)
    progression: float  # net travel in body heights (across the image and in depth)
    straightness: float  # net travel / path length of the smoothed trajectory (0-1)
    oscillation: float  # back-and-forth motion in body heights per second, around the smoothed path
    seed_score: float  # the gait seed's rule: range of centre y / range of centre x
    direction: str  # "across", "toward", "away", "oblique" or "in place"
    reason: str

    def to_dict(self) -> dict:
        return {
            "track_id": self.track_id,
            "score": round(self.score, 4),
            "seconds": round(self.seconds, 2),
            "coverage": round(self.coverage, 3),
            "progression": round(self.progression, 3),
            "straightness": round(self.straightness, 3),
            "oscillation": round(self.oscillation, 3),
            "seed_score": round(self.seed_score, 3),
            "direction": self.direction,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PatientSelection:
    """Which track is the patient, why, and every candidate's score."""

    track_id: int | None
    candidates: tuple[Candidate, ...]
    reason: str
    manual: bool = False

    def candidate(self, track_id: int) -> Candidate | None:
        return next((c for c in self.candidates if c.track_id == track_id), None)

    def to_dict(self) -> dict:
        return {
            "track_id": self.track_id,
            "manual": self.manual,
            "reason": self.reason,
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass
class SensorRecording:
    """Body-worn inertial sensors over time, whatever device or file they came from.

    ``acc_ms2`` includes gravity (a device at rest reads 9.81 m/s^2 against gravity), in the sensor's frame.
    ``segments`` names the body part of each device (e.g. the 12 AIHub segments, or ``("Waist",)``).
    """

    time_s: np.ndarray  # (n,)
    segments: tuple[str, ...]
    acc_ms2: np.ndarray  # (n, segments, 3)
    gyro_rad_s: np.ndarray | None = None  # (n, segments, 3)
    mag: np.ndarray | None = None  # (n, segments, 3), normalised field
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.time_s = np.asarray(self.time_s, dtype=np.float64).reshape(-1)
        n, s = len(self.time_s), len(self.segments)
        for name in ("acc_ms2", "gyro_rad_s", "mag"):
            value = getattr(self, name)
            if value is None:
                continue
            value = np.asarray(value, dtype=np.float64)
            if value.shape != (n, s, 3):
                raise ValueError(f"{name} must have shape ({n}, {s}, 3), got {value.shape}")
            setattr(self, name, value)

    @property
    def sample_rate_hz(self) -> float:
        if len(self.time_s) < 2:
            return 0.0
        return float(1.0 / np.median(np.diff(self.time_s)))

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0]) if len(self.time_s) else 0.0
