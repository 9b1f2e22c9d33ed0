"""A learned fall detector for video: did this tracked person just fall, and are they on the floor?

The rule-based state machine (:mod:`core.fall.video`) reads a few hand-chosen cues - how far the body axis
turned, how fast the shoulders and hips moved, whether the person stood before - and a single 2D view
hides some falls from them: a fall straight away from a ceiling camera shortens the body without turning it
and looks like sitting down. :class:`FallNet` reads all the cues at once over about five seconds around
each frame: the 13 body joints relative to the hips and their image speeds (in statures), the box's shape,
speed and growth, which joints are missing, and the state machine's own per-frame measures (body angle from
the person's learnt vertical, span, axis and hip speeds, state). It answers two probabilities per frame:

- **impact**: the person hits the ground in a fall within about 0.35 s of this frame;
- **down**: the person is on the floor or lying (trunk past 50 degrees from vertical, or the hips lower
  than a fifth of their stature) - whatever brought them there; bending far over counts, while it lasts.

A fall (:func:`falls_from_probabilities`) is an impact peak above :data:`IMPACT_LEVEL` followed by the
body down for at least :data:`~core.fall.video.CONFIRM_DOWN_S` (a stumble that ends upright is not one);
the person lies on as long as ``down`` stays above one half (or, when the pose model loses them on the
floor, as presumed by :func:`core.fall.video.presumed_lying_until`), which drives the same 10 s alarm as
the rules.

The network is :func:`core.tcn.build_tcn` (non-causal dilated residual convolutions, receptive field about
5 s, ~0.2 M weights). It is trained by :mod:`core.fall.training` on the synthetic motion lab's falls and
look-alikes (:mod:`core.synth.falls`) seen through the calibrated YOLO11n-pose noise model and the tracker -
from its own seeds, never the fall benchmark's - and its file ``weights/fall-video.pt`` carries its training
record (model card ``weights/fall-video.md``). Features are computed at :data:`NET_RATE_HZ`; other frame
rates are resampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.fall.video import (
    CONFIRM_DOWN_S,
    DOWN_GAP_S,
    KEYPOINT_MIN_CONFIDENCE,
    REFERENCE_WINDOW_S,
    STATE_CODE,
    MachineRun,
)
from core.series import true_runs
from core.settings import WEIGHTS_DIR
from core.tcn import Weights, build_tcn, probabilities_on_grid
from core.types import KP, Track

WEIGHTS_PATH = WEIGHTS_DIR / "fall-video.pt"
NET_RATE_HZ = 30.0
FEATURE_VERSION = 1
TRAIN_COMMAND = "python -m core train fall-video"
JOINT_NAMES = (
    "nose",
    *(
        f"{side}_{joint}"
        for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
        for side in ("left", "right")
    ),
)
JOINTS = tuple(KP[name] for name in JOINT_NAMES)
MIRROR = tuple(
    JOINT_NAMES.index(n.replace("left", "#").replace("right", "left").replace("#", "right"))
    for n in JOINT_NAMES
)
STATES = ("upright", "sitting", "lying", "unknown")  # the machine's states before falls are marked
FEATURE_CLIP = 10.0  # statures (per second): larger values are keypoint errors, not movement
N_J = len(JOINTS)
N_FEATURES = 2 * N_J + 2 * N_J + 5 + N_J + 1 + 5 + len(STATES) + 1
OUTPUTS = ("impact", "down")
LEVEL = 0.5
# A fall needs an impact peak this high: on the development scenes (seeds 30000+ and 60000+, 1 344 scenes
# through exact joints and the pose-noise model at 320, 640 and auto) every look-alike's peak that led to
# a confirmed "down" was 0.56-0.86, and 98 % of falls peaked above 0.99.
IMPACT_LEVEL = 0.9
IMPACT_SEARCH_S = (-1.0, 1.0)  # the body reads "down" this close to the impact peak ...
CONFIRM_WINDOW_S = 3.0  # ... and stays down for CONFIRM_DOWN_S of the this long after it
START_BEFORE_S = 2.0  # the fall began at the last upright frame at most this long before the body was down
DEFAULT_DESCENT_S = 0.8  # ... or this long before, when no upright frame was seen


def _running_max(values: np.ndarray, window: int) -> np.ndarray:
    """Causal running maximum over ``window`` samples, ignoring NaN; NaN where the window holds none."""
    import pandas as pd

    return pd.Series(values).rolling(window, min_periods=1).max().to_numpy()


def _fill(values: np.ndarray, default: float) -> np.ndarray:
    """Forward-fill NaN, then back-fill the start; ``default`` where nothing is known."""
    import pandas as pd

    filled = pd.Series(values).ffill().bfill().to_numpy()
    return np.where(np.isfinite(filled), filled, default)


def features(track: Track, fps: float, run: MachineRun) -> tuple[np.ndarray, np.ndarray]:
    """(channels, g) network input on the track's contiguous frame grid, and that grid (video frames).

    Frames the tracker has no box for are gaps: zero features, the gap flag set.
    """
    frames = np.asarray(track.frames, int)
    grid = np.arange(frames[0], frames[-1] + 1)
    at = frames - frames[0]
    g = len(grid)

    def scatter(values: np.ndarray, fill=np.nan) -> np.ndarray:
        out = np.full((g, *np.shape(values)[1:]), fill, dtype=float)
        out[at] = values
        return out

    kp = scatter(track.keypoints)
    seen = kp[..., 2] >= KEYPOINT_MIN_CONFIDENCE
    xy = np.where(seen[..., None], kp[..., :2], np.nan)[:, JOINTS]  # (g, 13, 2)
    boxes = scatter(track.boxes)
    box_w, box_h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    # the person's size in px: the largest straight-body stature of the last REFERENCE_WINDOW_S, held while
    # the body is bent or down; the box height where the body was never seen straight
    stature = _running_max(scatter(run.measures.straight_stature_px), max(1, round(REFERENCE_WINDOW_S * fps)))
    stature = _fill(stature, float(np.nanmedian(box_h)) if np.isfinite(box_h).any() else 1.0)
    stature = np.maximum(stature, 1.0)
    hip_xy = xy[:, [JOINT_NAMES.index("left_hip"), JOINT_NAMES.index("right_hip")]]
    hip_count = np.isfinite(hip_xy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        hips = np.nansum(hip_xy, axis=1) / hip_count  # the hips seen (NaN where neither is)
    box_centre = np.stack([boxes[:, [0, 2]].mean(axis=1), boxes[:, [1, 3]].mean(axis=1)], axis=1)
    centre = np.where(np.isfinite(hips), hips, box_centre)
    s = stature[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (xy - centre[:, None, :]) / s
        velocity = np.gradient(xy / s, axis=0) * fps
        box_velocity = np.gradient(centre / stature[:, None], axis=0) * fps
        growth = np.gradient(np.log(np.hypot(box_w, box_h)), axis=0) * fps
    box = np.stack([box_w / stature, box_h / stature, box_velocity[:, 0], box_velocity[:, 1], growth], axis=1)
    missing = ~np.isfinite(xy[..., 0])
    gap = np.ones(g)
    gap[at] = 0.0
    values = scatter(run.values)  # angle, span, axis speed, hip speed
    measures = np.stack(
        [values[:, 0] / 90.0, values[:, 1], values[:, 2], values[:, 3], np.isfinite(values[:, 0])], axis=1
    )
    state = scatter(run.state.astype(float), fill=STATE_CODE["unknown"])
    states = np.stack([state == STATE_CODE[name] for name in STATES], axis=1)
    visible = scatter(run.measures.visible_joints.astype(float), fill=0.0) / 17.0
    channels = np.concatenate(
        [
            rel.reshape(g, -1),
            velocity.reshape(g, -1),
            box,
            missing,
            gap[:, None],
            measures,
            states,
            visible[:, None],
        ],
        axis=1,
    )
    channels = np.clip(np.nan_to_num(channels, nan=0.0, posinf=0.0, neginf=0.0), -FEATURE_CLIP, FEATURE_CLIP)
    return channels.T.astype(np.float32), grid


def mirror_features(x: np.ndarray) -> np.ndarray:
    """The same clip seen in a mirror: image x negated, left and right joints exchanged (augmentation)."""
    out = x.copy()
    for block in range(2):  # relative positions, then velocities: (joint, x|y) pairs
        base = block * 2 * N_J
        for j in range(N_J):
            for c in range(2):
                out[..., base + 2 * j + c, :] = x[..., base + 2 * MIRROR[j] + c, :]
        out[..., base : base + 2 * N_J : 2, :] *= -1.0
    base = 4 * N_J
    out[..., base + 2, :] *= -1.0  # box centre's horizontal velocity
    base += 5
    out[..., base : base + N_J, :] = x[..., [base + MIRROR[j] for j in range(N_J)], :]
    return out


def build_network(
    channels: int = 64, dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 1, 2, 4), kernel: int = 5
):
    """FallNet: input (batch, N_FEATURES, n) at NET_RATE_HZ, output (batch, 2, n) impact / down logits."""
    return build_tcn(N_FEATURES, len(OUTPUTS), channels, dilations, kernel)


WEIGHTS = Weights("fall-video", WEIGHTS_PATH, FEATURE_VERSION, TRAIN_COMMAND, build_network)


def available(path: Path | None = None) -> bool:
    return WEIGHTS.available(path)


def load(path: Path | None = None):
    """(network in eval mode, its training record) of the weights at ``path`` (default: the shipped ones)."""
    return WEIGHTS.load(path)


def version(path: Path | None = None) -> str:
    return WEIGHTS.version(path)


def probabilities(track: Track, fps: float, run: MachineRun, path: Path | None = None) -> np.ndarray:
    """(2, m) impact and down probabilities at the track's own frames."""
    net, _ = load(path)
    x, grid = features(track, fps, run)
    p = probabilities_on_grid(net, x, grid / fps, fps, NET_RATE_HZ)
    return p[:, np.asarray(track.frames, int) - grid[0]]


@dataclass(frozen=True)
class LearnedFall:
    """One fall found by the network on one track (times in the video, indices into the track)."""

    start_s: float  # last upright (or DEFAULT_DESCENT_S before the body was down)
    end_s: float  # the body is down
    end_index: int
    lying_until_s: float  # last time seen down after it
    score: float  # the impact peak


def down_mask(time_s: np.ndarray, down: np.ndarray, presumed_until_s: float | None = None):
    """(times, lying) for the alarm: ``down`` above one half, gaps shorter than DOWN_GAP_S bridged, and the
    person presumed down until ``presumed_until_s`` when the track ends down."""
    lying = down >= LEVEL
    for first, stop in true_runs(~lying):
        if first > 0 and stop < len(lying) and time_s[stop] - time_s[first - 1] <= DOWN_GAP_S:
            lying[first:stop] = True
    times = time_s
    if presumed_until_s is not None and len(lying) and lying[-1] and presumed_until_s > time_s[-1]:
        step = float(np.median(np.diff(time_s))) if len(time_s) > 1 else 1.0 / NET_RATE_HZ
        extra = np.arange(time_s[-1] + step, presumed_until_s + 1e-9, step)
        times, lying = np.concatenate([time_s, extra]), np.concatenate([lying, np.ones(len(extra), bool)])
    return times, lying


def falls_from_probabilities(
    time_s: np.ndarray,
    p: np.ndarray,
    state: np.ndarray,
    confirm_down_s: float = CONFIRM_DOWN_S,
    presumed_until_s: float | None = None,
) -> list[LearnedFall]:
    """Falls from per-frame impact / down probabilities (see the module docstring); ``state``: the state
    machine's per-frame states (for the last upright moment)."""
    impact, down = p
    times, lying = down_mask(time_s, down, presumed_until_s)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / NET_RATE_HZ
    falls: list[LearnedFall] = []
    for first, stop in true_runs(impact >= LEVEL):
        peak = first + int(np.argmax(impact[first:stop]))
        t_peak = time_s[peak]
        if impact[peak] < IMPACT_LEVEL:
            continue
        if falls and t_peak <= falls[-1].lying_until_s:
            continue  # still down from the fall already found
        near = np.flatnonzero(
            lying[: len(time_s)]
            & (time_s >= t_peak + IMPACT_SEARCH_S[0])
            & (time_s <= t_peak + IMPACT_SEARCH_S[1])
        )
        if not len(near):
            continue
        end = int(near[0])
        after = (times >= time_s[end]) & (times <= time_s[end] + CONFIRM_WINDOW_S)
        if np.count_nonzero(lying & after) * step < confirm_down_s - 1e-9:
            continue
        run_end = next(stop - 1 for first, stop in true_runs(lying) if first <= end < stop)
        upright = np.flatnonzero(
            (state[:end] == STATE_CODE["upright"]) & (time_s[:end] >= time_s[end] - START_BEFORE_S)
        )
        start = time_s[upright[-1]] if len(upright) else time_s[end] - DEFAULT_DESCENT_S
        falls.append(
            LearnedFall(float(start), float(time_s[end]), end, float(times[run_end]), float(impact[peak]))
        )
    return falls
