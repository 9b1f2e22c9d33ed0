"""How does a simulated person move between postures: stand, sit, squat, kneel, bend, lie, fall?

A movement is a list of :class:`Keyframe` s: a posture (joint angles, :data:`POSES`), what carries the
body's weight (``support``: the feet, the floor, a bed) and what stays put horizontally (``anchor``: the
feet, or the pelvis moved by ``move_m``). Between keyframes the angles follow a minimum-jerk profile, as
deliberate human movements do, or a falling body's accelerating profile (:func:`pendulum_profile`).
The body is then put on its support: with ``support="feet"`` the lowest point of the feet is on the floor,
with ``"floor"`` / ``"bed"`` the lowest point of the body; nothing ever goes through the floor. Small slow
sway keeps standing, sitting and lying people from looking frozen.

This is kinematics, not dynamics: bodies do not bounce, slide or collide with furniture (the chair and bed
are implied by the posture). That is enough for what the lab needs: joint paths whose timing, heights and
speeds are those of real falls and real look-alikes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from core.errors import InputError
from core.synth.body import ANGLE_NAMES, Body, Motion, minimum_jerk, posed_joints
from core.synth.skeleton import J

SUPPORTS = ("feet", "floor", "bed")
ANCHORS = ("feet", "pelvis")
FEET = [J[n] for n in ("left_heel", "left_toe", "right_heel", "right_toe")]
GRAVITY_MS2 = 9.81
# Damping of the toppling body: calibrated so that the pelvis reaches 2-3.5 m/s downwards before impact and
# the head 3-5 m/s, the ranges reported for real and volunteer falls (e.g. van den Kroonenberg et al. 1996,
# hip impact velocity in sideways falls; Bourke et al. 2008, trunk vertical velocity in falls).
FALL_DAMPING_PER_S = 3.0

_RELAXED_ARMS = {"left_elbow_flexion": 10.0, "right_elbow_flexion": 10.0}
_ARMS_OUT = {"left_shoulder_abduction": 5.0, "right_shoulder_abduction": 5.0}


def _both(**angles: float) -> dict[str, float]:
    """Same angle on both sides: ``_both(knee_flexion=90)`` -> left and right knee flexion."""
    return {f"{side}_{name}": value for name, value in angles.items() for side in ("left", "right")}


# Postures as joint angles in degrees (see core.synth.body for the sign conventions). Falls and lying on a
# side are given to the right; :func:`mirrored` makes the left-side versions.
POSES: dict[str, dict[str, float]] = {
    "stand": {**_RELAXED_ARMS, **_ARMS_OUT},
    "stride": {
        **_RELAXED_ARMS,
        **_ARMS_OUT,
        "left_hip_flexion": 15.0,
        "right_hip_flexion": -10.0,
        "right_knee_flexion": 10.0,
    },
    "sit": {
        **_both(hip_flexion=90.0, knee_flexion=90.0, elbow_flexion=60.0, shoulder_flexion=15.0),
        "trunk_flexion": 5.0,
    },
    "sit_transition": {"pitch": 30.0, **_both(hip_flexion=65.0, knee_flexion=60.0, shoulder_flexion=25.0)},
    # On the way down to the knees the feet stay flat; they only point once the knees are down.
    "crouch": {"pitch": 15.0, **_both(hip_flexion=50.0, knee_flexion=85.0, shoulder_flexion=20.0)},
    "squat": {"pitch": 25.0, **_both(hip_flexion=115.0, knee_flexion=130.0, shoulder_flexion=45.0)},
    "bend": {
        "pitch": 55.0,
        "trunk_flexion": 25.0,
        "head_flexion": -25.0,
        **_both(hip_flexion=50.0, knee_flexion=15.0, shoulder_flexion=75.0, elbow_flexion=10.0),
    },
    "kneel": {
        "trunk_flexion": 5.0,
        **_both(hip_flexion=5.0, knee_flexion=95.0, ankle_dorsiflexion=-40.0, elbow_flexion=20.0),
    },
    "half_kneel": {
        "left_hip_flexion": 85.0,
        "left_knee_flexion": 90.0,
        "right_hip_flexion": 0.0,
        "right_knee_flexion": 95.0,
        "right_ankle_dorsiflexion": -35.0,
        **_both(elbow_flexion=30.0, shoulder_flexion=10.0),
    },
    "hands_knees": {
        "pitch": 85.0,
        "head_flexion": -40.0,
        **_both(hip_flexion=90.0, knee_flexion=90.0, ankle_dorsiflexion=-40.0, shoulder_flexion=85.0),
    },
    "sit_floor": {
        "pitch": -15.0,
        "trunk_flexion": 10.0,
        **_both(hip_flexion=80.0, knee_flexion=25.0, ankle_dorsiflexion=-10.0, shoulder_flexion=-20.0),
    },
    "lie_prone": {
        "pitch": 90.0,
        "head_flexion": -20.0,
        **_both(shoulder_flexion=150.0, elbow_flexion=70.0, ankle_dorsiflexion=-40.0),
    },
    "lie_supine": {
        "pitch": -90.0,
        **_both(ankle_dorsiflexion=-20.0, shoulder_abduction=15.0, elbow_flexion=15.0),
    },
    "lie_side": {
        "roll": 90.0,
        "head_flexion": 10.0,
        **_both(hip_flexion=35.0, knee_flexion=45.0, shoulder_flexion=70.0, elbow_flexion=50.0),
    },
    # Falling: the body tips as a whole; knees give and arms go out to break the fall.
    "fall_forward": {
        "pitch": 88.0,
        "head_flexion": -35.0,
        **_both(hip_flexion=20.0, knee_flexion=30.0, shoulder_flexion=110.0, elbow_flexion=30.0),
    },
    "fall_backward": {
        "pitch": -85.0,
        "head_flexion": 25.0,
        **_both(hip_flexion=45.0, knee_flexion=60.0, shoulder_abduction=45.0, shoulder_flexion=30.0),
    },
    "fall_lateral": {
        "roll": 85.0,
        "right_shoulder_abduction": 80.0,
        "left_shoulder_flexion": 40.0,
        **_both(hip_flexion=20.0, knee_flexion=30.0, elbow_flexion=20.0),
    },
    "fallen_forward": {
        "pitch": 90.0,
        "head_flexion": -15.0,
        **_both(shoulder_flexion=120.0, elbow_flexion=80.0, knee_flexion=10.0, ankle_dorsiflexion=-40.0),
    },
    "fallen_backward": {
        "pitch": -90.0,
        **_both(hip_flexion=15.0, knee_flexion=25.0, shoulder_abduction=40.0),
    },
    "fallen_lateral": {
        "roll": 90.0,
        "right_shoulder_flexion": 90.0,
        "left_shoulder_flexion": 30.0,
        **_both(hip_flexion=25.0, knee_flexion=35.0, elbow_flexion=30.0),
    },
}
_MIRROR_SIGN = {"roll": -1.0, "yaw": -1.0, "trunk_lean": -1.0, "trunk_twist": -1.0}


def mirrored(pose: Mapping[str, float]) -> dict[str, float]:
    """The same posture with left and right exchanged (a fall to the left from one to the right)."""
    out = {}
    for name, value in pose.items():
        if name.startswith("left_"):
            out["right_" + name[5:]] = value
        elif name.startswith("right_"):
            out["left_" + name[6:]] = value
        else:
            out[name] = _MIRROR_SIGN.get(name, 1.0) * value
    return out


@dataclass(frozen=True)
class Keyframe:
    """A posture reached at ``time_s``; ``ease`` shapes the movement that arrives here."""

    time_s: float
    pose: Mapping[str, float]
    support: str = "feet"
    anchor: str = "feet"
    move_m: tuple[float, float] = (0.0, 0.0)  # pelvis shift (forward, left) since the last keyframe
    ease: str = "smooth"  # "smooth" (minimum jerk) or "fall" (the choreography's falling profile)

    def __post_init__(self) -> None:
        if self.support not in SUPPORTS or self.anchor not in ANCHORS:
            raise ValueError(f"support must be one of {SUPPORTS} and anchor one of {ANCHORS}")


def pendulum_profile(
    start_deg: float,
    start_rate_rad_s: float,
    length_m: float,
    damping_per_s: float = FALL_DAMPING_PER_S,
    end_deg: float = 88.0,
) -> tuple[float, Callable[[np.ndarray], np.ndarray]]:
    """How long a body takes to topple and how its tilt grows: a damped inverted pendulum on its feet.

    ``theta'' = g / L * sin(theta) - c * theta'`` from ``start_deg`` tilt and ``start_rate_rad_s`` until
    ``end_deg``. The damping stands for what the legs, arms and trunk absorb on the way down.
    Returns the duration and the 0-1 progress as a function of 0-1 time, which starts slow and ends fast,
    as in a real loss of balance.
    """
    dt = 1e-3
    theta, rate = np.radians(start_deg), start_rate_rad_s
    end = np.radians(end_deg)
    angles = [theta]
    while theta < end and len(angles) < 5000:
        rate += (GRAVITY_MS2 / length_m * np.sin(theta) - damping_per_s * rate) * dt
        theta += rate * dt
        angles.append(theta)
    angles = np.array(angles)
    progress = (angles - angles[0]) / (angles[-1] - angles[0])
    grid = np.linspace(0.0, 1.0, len(progress))
    return (len(angles) - 1) * dt, lambda u: np.interp(np.clip(u, 0.0, 1.0), grid, progress)


def idle_sway(frames: int, fps: float, rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Slow random sway (degrees) that living people show even when standing, sitting or lying still."""
    t = np.arange(frames) / fps
    amplitude = {
        "pitch": 0.6,
        "roll": 0.4,
        "trunk_flexion": 1.0,
        "trunk_twist": 2.0,
        "head_flexion": 3.0,
        **_both(shoulder_flexion=2.0, elbow_flexion=3.0),
    }
    out = {}
    for name, amp in amplitude.items():
        freq = rng.uniform(0.08, 0.5, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        out[name] = scale * amp / np.sqrt(3) * np.sin(2 * np.pi * freq * t[:, None] + phase).sum(axis=1)
    return out


def _flat_foot_ankles(pose: Mapping[str, float]) -> dict[str, float]:
    """Ankle angles that keep the soles flat on the floor for this posture (when not given)."""
    out = dict(pose)
    for side in ("left", "right"):
        key = f"{side}_ankle_dorsiflexion"
        if key not in out:
            out[key] = (
                out.get("pitch", 0.0)
                - out.get(f"{side}_hip_flexion", 0.0)
                + out.get(f"{side}_knee_flexion", 0.0)
            )
    return out


def choreograph(
    body: Body,
    keyframes: Sequence[Keyframe],
    duration_s: float,
    fps: float,
    rng: np.random.Generator,
    fall_profile: Callable[[np.ndarray], np.ndarray] | None = None,
    bed_height_m: float = 0.45,
    sway: float = 1.0,
    activity: str = "",
) -> Motion:
    """Turn keyframes into a :class:`Motion` (facing +x, feet around the origin at the start)."""
    if not keyframes or any(b.time_s <= a.time_s for a, b in pairwise(keyframes)):
        raise InputError("keyframes must be given in increasing time")
    frames = round(duration_s * fps)
    t = np.arange(frames) / fps
    times = np.array([k.time_s for k in keyframes])
    # Which segment each frame is in, and how far it has progressed (eased).
    seg = np.clip(np.searchsorted(times, t, side="right"), 1, len(times) - 1)
    u = np.clip((t - times[seg - 1]) / (times[seg] - times[seg - 1]), 0.0, 1.0)
    u[t < times[0]] = 0.0
    weight = minimum_jerk(u)
    falling = np.array([keyframes[s].ease == "fall" for s in seg])
    if falling.any():
        if fall_profile is None:
            raise ValueError("a keyframe eases as a fall but no fall profile was given")
        weight[falling] = fall_profile(u[falling])

    def interpolate(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        w = weight.reshape(-1, *([1] * (values.ndim - 1)))
        return values[seg - 1] + (values[seg] - values[seg - 1]) * w

    poses = [_flat_foot_ankles(k.pose) if k.support == "feet" else dict(k.pose) for k in keyframes]
    sway_angles = idle_sway(frames, fps, rng, sway)
    angles = {
        name: interpolate([p.get(name, 0.0) for p in poses]) + sway_angles.get(name, 0.0)
        for name in ANGLE_NAMES
    }
    local = posed_joints(body, angles, frames)

    # Vertical: the chosen support carries the body; blends across a change of support; never below the floor.
    radii = body.joint_radii_m()
    on_floor = -np.min(local[:, :, 2] - radii, axis=1)
    on_feet = -np.min(local[:, FEET, 2], axis=1)
    heights = {"feet": on_feet, "floor": on_floor, "bed": on_floor + bed_height_m}
    z = sum(interpolate([k.support == name for k in keyframes]) * h for name, h in heights.items())
    z = np.maximum(z, on_floor)

    # Horizontal: feet stay where they stood, or the pelvis goes where the keyframes move it. Feet planted
    # after a pelvis-anchored stretch (getting up from the floor) stay where that stretch left them.
    feet_centre = local[:, FEET, :2].mean(axis=1)
    pelvis_on_feet = feet_centre[0] - feet_centre
    key_frames = np.clip(np.round(times * fps).astype(int), 0, frames - 1)
    pelvis_keys = [pelvis_on_feet[key_frames[0]]]
    feet_origins = [np.zeros(2)]
    for i, key in enumerate(keyframes[1:], start=1):
        if key.anchor == "feet":
            origin = feet_origins[-1]
            if keyframes[i - 1].anchor != "feet":
                origin = pelvis_keys[-1] - pelvis_on_feet[key_frames[i - 1]]
            feet_origins.append(origin)
            pelvis_keys.append(origin + pelvis_on_feet[key_frames[i]])
        else:
            feet_origins.append(feet_origins[-1])
            yaw = np.radians(key.pose.get("yaw", 0.0))
            forward, left = key.move_m
            shift = np.array(
                [forward * np.cos(yaw) - left * np.sin(yaw), forward * np.sin(yaw) + left * np.cos(yaw)]
            )
            pelvis_keys.append(pelvis_keys[-1] + shift)
    # Each stretch's feet stand where its feet-anchored end planted them.
    anchored = np.array([k.anchor == "feet" for k in keyframes])
    origins = np.array(feet_origins)
    stretch_origin = np.where(anchored[seg][:, None], origins[seg], origins[seg - 1])
    feet_weight = interpolate(anchored)[:, None]
    on_feet_xy = stretch_origin + pelvis_on_feet
    xy = feet_weight * on_feet_xy + (1 - feet_weight) * interpolate(np.array(pelvis_keys))

    joints = local.copy()
    joints[:, :, :2] += xy[:, None, :]
    joints[:, :, 2] += z[:, None]
    return Motion(joints, fps, body, activity=activity)


def stand_still(body: Body, duration_s: float, fps: float, rng: np.random.Generator) -> Motion:
    """Someone standing and waiting (a bystander, the first seconds before a fall)."""
    pose = POSES["stand"]
    return choreograph(
        body, [Keyframe(0.0, pose), Keyframe(duration_s, pose)], duration_s, fps, rng, activity="stand"
    )
