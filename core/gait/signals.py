"""Clean joint trajectories of the patient: the input every gait measure is computed from.

The pose model's raw keypoints flicker, drop joints behind the other leg and sometimes swap left and right
when the legs cross in a side view. Before events are detected this module:

1. places the track on a uniform time grid (missed frames become gaps);
2. treats left and right knees or ankles that coincide as missing (:func:`drop_doubled_legs`). Left/right
   swaps are not relabelled: on real YOLO11n-pose output (sports2d clip) a global relabelling by motion
   smoothness made events worse, so swaps are left to the event detectors' checks instead;
3. fills gaps no longer than :data:`MAX_GAP_S` by linear interpolation; longer gaps stay empty, and
   events are never detected across them;
4. low-pass filters every coordinate with a zero-lag Butterworth filter (4th order, :data:`CUTOFF_HZ`, the
   usual choice for walking kinematics, Winter 2009), run forwards and backwards inside each gap-free run;
5. estimates the body's size in pixels per frame from segment lengths (trunk, thigh, shank), which do not
   change with posture: it scales jitter thresholds and, with the patient's height, calibrates lengths.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import butter, sosfiltfilt

from core.series import true_runs
from core.types import KP, Track

MIN_CONFIDENCE = 0.3  # below this a keypoint is treated as missing
MAX_GAP_S = 0.25  # longer gaps are not bridged (a quarter of a gait cycle)
DOUBLED_SHARE = 0.03  # left and right knee or ankle this close (share of body height) are one leg seen twice
CUTOFF_HZ = 6.0
FILTER_ORDER = 4
# Winter's anthropometry (Biomechanics and Motor Control of Human Movement, 2009, fig. 4.1), as a share of
# stature: shoulder 0.818, hip 0.530, knee 0.285, ankle 0.039 -> trunk 0.288, thigh 0.245, shank 0.246.
TRUNK_SHARE, THIGH_SHARE, SHANK_SHARE = 0.288, 0.245, 0.246
SEGMENT_SHARE = TRUNK_SHARE + THIGH_SHARE + SHANK_SHARE

LEG_JOINTS = {
    "left": (KP["left_hip"], KP["left_knee"], KP["left_ankle"]),
    "right": (KP["right_hip"], KP["right_knee"], KP["right_ankle"]),
}


@dataclass
class JointSignals:
    """The patient's filtered keypoints on a uniform time grid."""

    time_s: np.ndarray  # (n,)
    frames: np.ndarray  # (n,) video frame numbers (fractional where the grid fell between frames)
    xy: np.ndarray  # (n, 17, 2) filtered px; NaN where missing
    confidence: np.ndarray  # (n, 17), 0 where missing
    stature_px: np.ndarray  # (n,) body height in px estimated from segment lengths, smoothed
    rate_hz: float

    def joint(self, name: str) -> np.ndarray:
        return self.xy[:, KP[name]]

    def midpoint(self, a: str, b: str) -> np.ndarray:
        return (self.joint(a) + self.joint(b)) / 2

    @property
    def pelvis(self) -> np.ndarray:
        return self.midpoint("left_hip", "right_hip")

    @property
    def shoulders(self) -> np.ndarray:
        return self.midpoint("left_shoulder", "right_shoulder")

    def valid(self, name: str) -> np.ndarray:
        return np.all(np.isfinite(self.joint(name)), axis=1)


def _uniform_grid(track: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames on a uniform step (the track's usual stride), keypoints and confidences with NaN gaps."""
    frames = track.frames
    step = int(np.median(np.diff(frames))) if len(frames) > 1 else 1
    grid = np.arange(frames[0], frames[-1] + 1, step)
    xy = np.full((len(grid), 17, 2), np.nan)
    conf = np.zeros((len(grid), 17))
    index = np.searchsorted(grid, frames)
    keep = (index < len(grid)) & (grid[np.minimum(index, len(grid) - 1)] == frames)
    seen = track.keypoints[keep, :, 2] >= MIN_CONFIDENCE
    rows = index[keep]
    kp = track.keypoints[keep]
    xy[rows] = np.where(seen[..., None], kp[:, :, :2], np.nan)
    conf[rows] = np.where(seen, kp[:, :, 2], 0.0)
    return grid, xy, conf


def drop_doubled_legs(xy: np.ndarray, body_px: float) -> np.ndarray:
    """Treat left and right knees (or ankles) closer than :data:`DOUBLED_SHARE` of the body as missing.

    Where the legs overlap in a side view the pose model often puts both labels on the nearer leg; the
    far leg is then not seen at all, and the doubled point would drag both legs' trajectories together.
    """
    xy = xy.copy()
    for joint in ("knee", "ankle"):
        a, b = KP[f"left_{joint}"], KP[f"right_{joint}"]
        doubled = np.linalg.norm(xy[:, a] - xy[:, b], axis=1) < DOUBLED_SHARE * body_px
        xy[doubled, a] = np.nan
        xy[doubled, b] = np.nan
    return xy


def _fill_short_gaps(values: np.ndarray, max_gap: int) -> np.ndarray:
    """Linear interpolation across runs of NaN no longer than ``max_gap`` samples (1-D)."""
    values = values.copy()
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return values
    idx = np.arange(len(values))
    filled = np.interp(idx, idx[finite], values[finite])
    gap_start = None
    for i in range(len(values) + 1):
        missing = i < len(values) and not finite[i]
        if missing and gap_start is None:
            gap_start = i
        elif not missing and gap_start is not None:
            inner = gap_start > 0 and i < len(values)  # never extrapolate at the ends
            if inner and i - gap_start <= max_gap:
                values[gap_start:i] = filled[gap_start:i]
            gap_start = None
    return values


def low_pass(values: np.ndarray, rate_hz: float, cutoff_hz: float = CUTOFF_HZ) -> np.ndarray:
    """Zero-lag Butterworth low-pass inside each gap-free run (runs too short to filter stay as they are)."""
    cutoff = min(cutoff_hz, 0.4 * rate_hz)
    sos = butter(FILTER_ORDER, cutoff, btype="low", fs=rate_hz, output="sos")
    out = values.copy()
    pad = 3 * (2 * len(sos) + 1)
    for start, end in true_runs(np.isfinite(values)):
        if end - start > pad:
            out[start:end] = sosfiltfilt(sos, values[start:end])
    return out


# (left joints, right joints, share of stature) of the segments whose length gives body size
SIZE_SEGMENTS = (
    (("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), TRUNK_SHARE),
    (("left_hip", "left_knee"), ("right_hip", "right_knee"), THIGH_SHARE),
    (("left_knee", "left_ankle"), ("right_knee", "right_ankle"), SHANK_SHARE),
)


def stature_px(xy: np.ndarray, rate_hz: float) -> np.ndarray:
    """Body height in px per frame from trunk, thigh and shank lengths, median-smoothed over ~1 s."""

    def length(a: str, b: str) -> np.ndarray:
        return np.linalg.norm(xy[:, KP[a]] - xy[:, KP[b]], axis=1)

    estimates = []
    for left, right, share in SIZE_SEGMENTS:
        pair = np.column_stack([length(*left), length(*right)])
        # the longer projection is the less foreshortened one; a missing side leaves the other
        longest = np.max(np.where(np.isfinite(pair), pair, -np.inf), axis=1)
        estimates.append(np.where(np.isfinite(longest), longest, np.nan) / share)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames where no segment is seen: NaN, handled below
        estimate = np.nanmedian(np.column_stack(estimates), axis=1)
    finite = np.isfinite(estimate) & (estimate > 0)
    if finite.sum() < 2:
        return np.where(finite, estimate, np.nan)
    idx = np.arange(len(estimate))
    dense = np.interp(idx, idx[finite], estimate[finite])
    window = max(3, round(rate_hz) | 1)  # about a second: one gait cycle
    return median_filter(dense, size=window, mode="nearest")


def joint_signals(
    track: Track, fps: float, cutoff_hz: float = CUTOFF_HZ, repair_swaps: bool = True
) -> JointSignals:
    """Prepare the patient's track for event detection (see the module docstring)."""
    grid, xy, conf = _uniform_grid(track)
    step = int(grid[1] - grid[0]) if len(grid) > 1 else 1
    rate = fps / step
    max_gap = max(1, int(MAX_GAP_S * rate))
    xy = drop_doubled_legs(xy, float(np.median(track.heights_px)))
    for j in range(xy.shape[1]):
        for c in range(2):
            xy[:, j, c] = _fill_short_gaps(xy[:, j, c], max_gap)
    for j in range(xy.shape[1]):
        for c in range(2):
            xy[:, j, c] = low_pass(xy[:, j, c], rate, cutoff_hz)
    return JointSignals(
        time_s=grid / fps,
        frames=grid.astype(float),
        xy=xy,
        confidence=conf,
        stature_px=stature_px(xy, rate),
        rate_hz=rate,
    )
