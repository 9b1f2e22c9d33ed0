"""Which detection in this frame is the same person as in the last? Two trackers, one :class:`Track` type.

- :class:`IouTracker` is the gait seed's tracker: boxes of adjacent analysed frames are compared by
  intersection over union (IoU), pairs are matched greedily from the highest IoU down, unmatched detections
  start new tracks and a track ends after ``max_missed`` frames without a match. One addition: a track's box
  is moved by its recent velocity before matching (``predict_motion``), so two people of similar size who
  cross keep their identities; ``predict_motion=False`` is the seed's rule exactly.
- ``"bytetrack"`` runs Ultralytics' ByteTrack (Kalman motion model, second association of low-score boxes),
  which holds identities better through longer occlusions.

Both consume :class:`FramePoses` and return :class:`Track` objects carrying boxes *and* keypoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace

import numpy as np

from core.types import FramePoses, Track

TRACKERS = ("iou", "bytetrack")


@dataclass(frozen=True)
class TrackingSettings:
    method: str = "iou"
    iou_threshold: float = 0.3  # below this, two boxes are not the same person
    max_missed: int = 15  # analysed frames a track survives without a match (0.5 s at 30 fps)
    min_score: float = 0.35  # detections weaker than this may continue a track but never start one
    min_frames: int = 5  # tracks seen in fewer analysed frames are dropped as flicker
    predict_motion: bool = True

    def __post_init__(self) -> None:
        if self.method not in TRACKERS:
            raise ValueError(f"unknown tracker {self.method!r}; choose one of {', '.join(TRACKERS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (n, 4) and ``b`` (m, 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, column) taken from the highest IoU down, each row and column at most once."""
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    order = np.argsort(-iou, axis=None)
    used_rows, used_cols = set(), set()
    for flat in order:
        r, c = divmod(int(flat), iou.shape[1])
        if iou[r, c] < threshold:
            break
        if r in used_rows or c in used_cols:
            continue
        pairs.append((r, c))
        used_rows.add(r)
        used_cols.add(c)
    return pairs


@dataclass
class _Growing:
    id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    keypoints: list[np.ndarray] = field(default_factory=list)
    missed: int = 0

    def add(self, frame: int, box: np.ndarray, score: float, keypoints: np.ndarray) -> None:
        self.frames.append(frame)
        self.boxes.append(box)
        self.scores.append(score)
        self.keypoints.append(keypoints)
        self.missed = 0

    def predicted_box(self, frame: int, use_motion: bool) -> np.ndarray:
        last = self.boxes[-1]
        if not use_motion or len(self.boxes) < 2:
            return last
        # velocity over up to the last 5 observations, per analysed-frame step
        k = min(5, len(self.boxes) - 1)
        steps = self.frames[-1] - self.frames[-1 - k]
        velocity = (self.boxes[-1] - self.boxes[-1 - k]) / max(steps, 1)
        return last + velocity * (frame - self.frames[-1])

    def freeze(self) -> Track:
        return Track(self.id, self.frames, self.boxes, self.scores, self.keypoints)


class IouTracker:
    """Greedy IoU tracker (gait seed 000), optionally with constant-velocity box prediction."""

    def __init__(self, settings: TrackingSettings | None = None) -> None:
        self.settings = settings or TrackingSettings()
        self._active: list[_Growing] = []
        self._finished: list[_Growing] = []
        self._next_id = 1

    def update(self, poses: FramePoses) -> None:
        s = self.settings
        predicted = (
            np.array([t.predicted_box(poses.frame, s.predict_motion) for t in self._active])
            if self._active
            else np.zeros((0, 4))
        )
        pairs = greedy_match(iou_matrix(predicted, poses.boxes), s.iou_threshold)
        matched_tracks = {r for r, _ in pairs}
        matched_dets = {c for _, c in pairs}
        for r, c in pairs:
            self._active[r].add(poses.frame, poses.boxes[c], float(poses.scores[c]), poses.keypoints[c])
        still_active = []
        for i, track in enumerate(self._active):
            if i not in matched_tracks:
                track.missed += 1
            (self._finished if track.missed > s.max_missed else still_active).append(track)
        self._active = still_active
        for c in range(len(poses)):
            if c not in matched_dets and poses.scores[c] >= s.min_score:
                track = _Growing(self._next_id)
                self._next_id += 1
                track.add(poses.frame, poses.boxes[c], float(poses.scores[c]), poses.keypoints[c])
                self._active.append(track)

    def tracks(self) -> list[Track]:
        grown = self._finished + self._active
        return [
            g.freeze() for g in sorted(grown, key=lambda g: g.id) if len(g.frames) >= self.settings.min_frames
        ]


class _Detections:
    """The results-like object ByteTrack expects: ``conf``, ``cls``, ``xywh`` and boolean indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray) -> None:
        self.xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        self.conf = np.asarray(conf, dtype=np.float32).reshape(-1)
        self.cls = np.zeros(len(self.conf), dtype=np.float32)

    @property
    def xywh(self) -> np.ndarray:
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return np.concatenate([self.xyxy[:, :2] + wh / 2, wh], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> _Detections:
        return _Detections(self.xyxy[index], self.conf[index])


class ByteTracker:
    """Ultralytics ByteTrack producing the same :class:`Track` objects as :class:`IouTracker`."""

    def __init__(self, settings: TrackingSettings | None = None, fps: float = 30.0) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        self.settings = settings or TrackingSettings(method="bytetrack")
        args = SimpleNamespace(
            track_high_thresh=0.25,
            track_low_thresh=0.1,
            new_track_thresh=self.settings.min_score,
            track_buffer=self.settings.max_missed,
            match_thresh=0.8,
            fuse_score=True,
        )
        self._tracker = BYTETracker(args)
        self._tracks: dict[int, _Growing] = {}

    def update(self, poses: FramePoses) -> None:
        output = self._tracker.update(_Detections(poses.boxes, poses.scores))
        for row in np.asarray(output).reshape(-1, 8):
            track_id, index = int(row[4]), int(row[7])
            track = self._tracks.setdefault(track_id, _Growing(track_id))
            # keep the detector's own box and keypoints, not the Kalman-smoothed box, so both trackers agree
            track.add(poses.frame, poses.boxes[index], float(poses.scores[index]), poses.keypoints[index])

    def tracks(self) -> list[Track]:
        return [
            g.freeze()
            for g in sorted(self._tracks.values(), key=lambda g: g.id)
            if len(g.frames) >= self.settings.min_frames
        ]


def track_people(
    frames: Iterable[FramePoses], settings: TrackingSettings | None = None, fps: float = 30.0
) -> list[Track]:
    """Follow everyone through the analysed frames."""
    settings = settings or TrackingSettings()
    tracker = ByteTracker(settings, fps) if settings.method == "bytetrack" else IouTracker(settings)
    for poses in frames:
        tracker.update(poses)
    return tracker.tracks()
