"""A learned gait-event detector: which foot is on the ground in each frame, from the patient's keypoints.

The rule-based detectors of :mod:`core.gait.events` each read one cue - the ankle ahead of the pelvis, or
the ankle standing still - and COCO keypoints have no toes, so toe off, which the foot's front decides, is
their weak event (stance % errors of 2-4 percentage points on the synthetic lab, more toward the camera).
:class:`GaitPhaseNet` reads all the cues at once: where the shoulders, hips, knees and ankles are relative
to the pelvis (in body heights, forward = the walking direction), how fast each moves in the image, how the
body's size changes (the walk in depth) and which joints are missing, over about 2.4 s around each frame.
It answers, per frame and foot, the probability that the foot bears weight; heel strike is where that
probability rises through one half, toe off where it falls (refined between frames, like the rules).

The network is a small non-causal temporal convolution network (dilated residual 1-D convolutions, about
0.1 M weights, milliseconds per clip on a CPU). It is trained by :mod:`core.gait.training` on the synthetic
motion lab (:mod:`core.synth`) seen through the calibrated YOLO11n-pose noise model - never on the gait
benchmark's validation walkers - and its file ``weights/gait-events.pt`` carries its training record (see
the model card in ``weights/gait-events.md``). Features are computed at :data:`NET_RATE_HZ`; clips at other
frame rates are resampled to it and the answer back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.gait.events import SIDES, FootEvents, GaitEvents, _cycle_of, stance_events
from core.gait.signals import JointSignals
from core.settings import WEIGHTS_DIR
from core.tcn import Weights, build_tcn, probabilities_on_grid
from core.types import KP

WEIGHTS_PATH = WEIGHTS_DIR / "gait-events.pt"
NET_RATE_HZ = 30.0  # the rate the network was trained at; other rates are resampled
FEATURE_VERSION = 1
TRAIN_COMMAND = "python -m core train gait-events"
JOINTS = tuple(
    f"{side}_{joint}" for joint in ("shoulder", "hip", "knee", "ankle") for side in ("left", "right")
)


def _other_side(name: str) -> str:
    return name.replace("left", "#").replace("right", "left").replace("#", "right")


MIRROR = tuple(JOINTS.index(_other_side(name)) for name in JOINTS)  # joint index of the other side
FEATURE_CLIP = 10.0  # body heights (per second): larger values are keypoint errors, not movement
CONTACT_LEVEL = 0.5


def _forward_sign(pelvis_x: np.ndarray) -> float:
    dx = np.diff(pelvis_x)
    dx = dx[np.isfinite(dx)]
    return -1.0 if len(dx) and np.median(dx) < 0 else 1.0


def features(signals: JointSignals) -> np.ndarray:
    """(channels, n) network input for a clip at its own rate (see the module docstring)."""
    xy = np.stack([signals.joint(name) for name in JOINTS], axis=1)  # (n, 8, 2)
    pelvis = signals.pelvis
    h = signals.stature_px
    h = np.where(np.isfinite(h) & (h > 1), h, np.nan)
    forward = _forward_sign(pelvis[:, 0])
    rel = (xy - pelvis[:, None, :]) / h[:, None, None]
    rel[..., 0] *= forward
    absolute = xy / h[:, None, None]
    absolute[..., 0] *= forward
    with np.errstate(invalid="ignore"):
        velocity = np.gradient(absolute, axis=0) * signals.rate_hz  # body heights / s, image motion
        pelvis_velocity = np.gradient(pelvis / h[:, None], axis=0) * signals.rate_hz
        pelvis_velocity[:, 0] *= forward
        growth = np.gradient(np.log(h)) * signals.rate_hz  # >0: coming closer
    missing = ~np.all(np.isfinite(xy), axis=2)  # (n, 8)
    channels = np.concatenate(
        [
            rel.reshape(len(rel), -1),
            velocity.reshape(len(velocity), -1),
            pelvis_velocity,
            growth[:, None],
            missing.astype(float),
        ],
        axis=1,
    )
    channels = np.clip(np.nan_to_num(channels, nan=0.0, posinf=0.0, neginf=0.0), -FEATURE_CLIP, FEATURE_CLIP)
    return channels.T.astype(np.float32)


N_FEATURES = 4 * len(JOINTS) + 2 + 1 + len(JOINTS)


def mirror_features(x: np.ndarray) -> np.ndarray:
    """The same clip with left and right exchanged (training augmentation; labels swap too)."""
    n_joints = len(JOINTS)
    order = []
    for block in range(2):  # relative positions, then velocities: (joint, x|y) pairs
        base = block * 2 * n_joints
        order += [base + 2 * MIRROR[j] + c for j in range(n_joints) for c in range(2)]
    base = 4 * n_joints
    order += [base, base + 1, base + 2]
    order += [base + 3 + MIRROR[j] for j in range(n_joints)]
    return x[..., order, :]


def build_network(channels: int = 64, dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2), kernel: int = 5):
    """GaitPhaseNet: input (batch, N_FEATURES, n), output (batch, 2, n) foot-contact logits."""
    return build_tcn(N_FEATURES, 2, channels, dilations, kernel)


WEIGHTS = Weights("gait-events", WEIGHTS_PATH, FEATURE_VERSION, TRAIN_COMMAND, build_network)


def available(path: Path | None = None) -> bool:
    return WEIGHTS.available(path)


def load(path: Path | None = None):
    """(network in eval mode, its training record) of the weights at ``path`` (default: the shipped ones)."""
    return WEIGHTS.load(path)


def version(path: Path | None = None) -> str:
    return WEIGHTS.version(path)


def contact_probability(signals: JointSignals, path: Path | None = None) -> np.ndarray:
    """(2, n) probability that the left / right foot bears weight, on the signals' own time grid."""
    net, _ = load(path)
    return probabilities_on_grid(net, features(signals), signals.time_s, signals.rate_hz, NET_RATE_HZ)


def events_from_contact(p: np.ndarray, signals: JointSignals) -> dict[str, FootEvents]:
    """Heel strike where a foot's contact probability rises through :data:`CONTACT_LEVEL`, toe off where it
    falls; phases shorter than the rules' minimum (:mod:`core.gait.events`) are flicker, not phases."""
    cycle = _cycle_of({side: p[i] for i, side in enumerate(SIDES)}, signals.rate_hz)
    # no event where neither ankle is seen: the network only guessed there
    unseen = ~np.any(np.isfinite(signals.xy[:, [KP["left_ankle"], KP["right_ankle"]], 0]), axis=1)
    return {
        side: stance_events(p[i], p[i] >= CONTACT_LEVEL, CONTACT_LEVEL, signals, cycle, skip=unseen)
        for i, side in enumerate(SIDES)
    }


def learned_events(signals: JointSignals, path: Path | None = None) -> GaitEvents:
    """Gait events from :class:`GaitPhaseNet` (raises if the weights file is missing)."""
    if not available(path):
        raise FileNotFoundError(
            f"the learned gait-event detector's weights ({WEIGHTS.path(path).name}) are missing: "
            "train them with `python -m core train gait-events` or choose a rule-based method"
        )
    p = contact_probability(signals, path)
    signal = {side: p[i] for i, side in enumerate(SIDES)}
    return GaitEvents("learned", events_from_contact(p, signals), "foot contact probability", signal)
