"""A simulated person walking on planned footsteps, with the GAITRite parameters those footsteps define.

The question it answers: *what would a walkway have measured for this walk?* Footsteps are planned first
(time of each heel strike and toe off, where each heel lands, how the foot is turned), so every GAITRite
parameter and gait event is exact by construction; the body is then fitted to the feet:

- each foot is planted while it bears weight: the heel stays still from heel strike to heel off, the toes
  from foot flat to toe off (heel rocker, foot flat, forefoot rocker), then swings to its next footprint
  on a smooth path lifted by ``foot_lift_cm``;
- the pelvis follows the footprints (forward between them, sideways towards the standing foot) and sits as
  high as the legs allow: that gives its vertical oscillation (highest in mid-stance) and, through
  two-bone inverse kinematics, the knee flexion in swing and the compensatory knee flexion of a crouched
  gait; it also rotates and tilts with the steps;
- trunk, head and arms ride on top: trunk flexion and lateral lean as asked, the head kept looking ahead,
  arms swinging opposite to the legs.

Path frame: the walk starts with the pelvis over the origin at t = 0 and goes along +x; place it in a scene
with :meth:`~core.synth.body.Motion.placed`. Parameter names and units are GAITRite's (see
``../shared/data/PROVENANCE.md``): ``/L`` and ``/R`` name the foot whose footfall ends the step or
starts the cycle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from core.errors import InputError
from core.reference import walkway_columns
from core.synth.body import (
    Body,
    Motion,
    apply,
    arm_joints,
    assemble,
    chain,
    head_joints,
    minimum_jerk,
    rot_x,
    rot_y,
    rot_z,
    shoulder_joints,
)

SIDES = ("L", "R")

# GAITRite parameter -> unit, in the order a report lists them (the catalogue in core.reference).
GAITRITE_UNITS: dict[str, str] = walkway_columns()

# Shares of the gait cycle for the foot rockers (Perry and Burnfield, Gait Analysis, 2nd ed.): loading
# response until the foot is flat, and heel off to toe off (terminal stance + pre-swing).
FOOT_FLAT_SHARE = 0.08
FOREFOOT_ROCKER_SHARE = 0.20
# How far towards the standing foot the pelvis sways (share of that foot's distance from the midline).
PELVIS_SWAY_SHARE = 0.45
# Standard deviation of where a heel lands sideways and how the foot is turned, step to step.
LATERAL_SCATTER_CM = 0.8
TOE_OUT_SCATTER_DEG = 1.5
STANCE_SCATTER_PCT = 0.6  # cycle-to-cycle scatter of the stance share
# Bump shape u^2 (1-u)^3 normalised to peak 1 (at u = 0.4): the foot rises early in swing, then glides in.
_LIFT_PEAK = 0.4**2 * 0.6**3


@dataclass(frozen=True)
class GaitParameters:
    """What to simulate. Left/right asymmetries are (left - right) / mean; ``/L`` values are larger if > 0."""

    cadence_steps_min: float = 112.0
    step_length_cm: float = 66.0
    stance_pct: float = 61.0
    base_width_cm: float = 9.0
    toe_out_deg: float = 6.0
    stride_time_cv_pct: float = 1.5
    stride_length_cv_pct: float = 1.5
    step_length_asymmetry: float = 0.0
    step_time_asymmetry: float = 0.0
    stance_asymmetry_pct: float = 0.0  # left stance % minus right stance %
    foot_lift_cm: float = 2.0  # extra rise of the swinging heel above its straight path
    heel_strike_angle_deg: float = 18.0  # toes up at heel strike (low in shuffling, flat-footed gait)
    toe_off_angle_deg: float = 40.0  # heel up at toe off (push-off)
    circumduction_left_cm: float = 0.0  # outward arc of the swinging foot (hemiparetic leg)
    circumduction_right_cm: float = 0.0
    arm_swing_left_deg: float = 30.0  # shoulder flexion range, peak to peak
    arm_swing_right_deg: float = 30.0
    elbow_flexion_left_deg: float = 20.0
    elbow_flexion_right_deg: float = 20.0
    trunk_flexion_deg: float = 3.0  # forward lean of the pelvis-to-neck line from vertical
    trunk_lean_deg: float = 0.0  # sideways lean, positive to the right (coronal imbalance)
    stance_knee_flexion_deg: float = 8.0  # knee bend in mid-stance (crouch in sagittal imbalance)
    pelvis_rotation_deg: float = 4.0  # amplitude of transverse pelvic rotation
    pelvis_obliquity_deg: float = 3.0  # amplitude of the swing-side hip drop
    condition: str = "custom"

    @property
    def velocity_cm_s(self) -> float:
        return self.step_length_cm * self.cadence_steps_min / 60.0

    @property
    def cycle_time_s(self) -> float:
        return 120.0 / self.cadence_steps_min

    def check(self, body: Body) -> None:
        """Refuse what no walk can do, in words a gait lab uses."""
        if not 30.0 <= self.cadence_steps_min <= 200.0:
            raise InputError(f"cadence must be 30-200 steps/min, got {self.cadence_steps_min}")
        if not 5.0 <= self.step_length_cm <= 110.0 * body.leg_m:
            raise InputError(
                f"step length {self.step_length_cm} cm is not a walking step for a {body.height_cm} cm person"
            )
        for side, stance in (("left", self.stance_left_pct), ("right", self.stance_right_pct)):
            if not 52.0 <= stance <= 85.0:
                raise InputError(
                    f"{side} stance must be 52-85 % of the cycle for walking (both feet down at times), "
                    f"got {stance:.1f} %"
                )
        if abs(self.step_time_asymmetry) > 0.5 or abs(self.step_length_asymmetry) > 0.6:
            raise InputError("left/right step asymmetry must be below 50 % (time) and 60 % (length)")
        if not 0.0 <= self.base_width_cm <= 45.0:
            raise InputError(f"base of support must be 0-45 cm, got {self.base_width_cm}")
        if not -30.0 <= self.toe_out_deg <= 40.0:
            raise InputError(f"toe in/out must be -30..40 degrees, got {self.toe_out_deg}")
        if not (0.0 <= self.stride_time_cv_pct <= 20.0 and 0.0 <= self.stride_length_cv_pct <= 20.0):
            raise InputError("stride variability (CV) must be 0-20 %")
        if not -10.0 <= self.trunk_flexion_deg <= 70.0 or abs(self.trunk_lean_deg) > 30.0:
            raise InputError("trunk flexion must be -10..70 degrees and lateral lean within 30 degrees")
        if not 0.0 <= self.stance_knee_flexion_deg <= 45.0:
            raise InputError(f"stance knee flexion must be 0-45 degrees, got {self.stance_knee_flexion_deg}")

    @property
    def stance_left_pct(self) -> float:
        return self.stance_pct + self.stance_asymmetry_pct / 2

    @property
    def stance_right_pct(self) -> float:
        return self.stance_pct - self.stance_asymmetry_pct / 2


@dataclass(frozen=True)
class Footfalls:
    """Every planned footfall in time order (alternating feet), in the path frame."""

    is_left: np.ndarray  # (n,) bool
    heel_strike_s: np.ndarray  # (n,)
    foot_flat_s: np.ndarray
    heel_off_s: np.ndarray
    toe_off_s: np.ndarray
    heel_m: np.ndarray  # (n, 2) back of the heel on the ground: x forward, y left
    yaw_deg: np.ndarray  # (n,) direction the foot points, positive = turned left

    def side(self, left: bool) -> np.ndarray:
        return np.flatnonzero(self.is_left == left)


@dataclass(frozen=True)
class GaitEvents:
    """Heel strikes and toe offs per foot inside the clip, in seconds."""

    left_heel_strike_s: np.ndarray
    left_toe_off_s: np.ndarray
    right_heel_strike_s: np.ndarray
    right_toe_off_s: np.ndarray

    def to_dict(self, fps: float) -> dict:
        out = {}
        for name, times in asdict(self).items():
            out[name] = [round(float(t), 4) for t in times]
            out[name.removesuffix("_s") + "_frame"] = [round(t * fps) for t in times]
        return out


@dataclass(frozen=True)
class GaitTruth:
    """What a walkway and a motion-capture lab would have measured for the simulated walk."""

    parameters: dict[str, float]  # GAITRite name -> value in GAITRITE_UNITS
    events: GaitEvents
    footfalls: Footfalls  # in the walk's path frame, whatever Motion.placed did to the body
    height_cm: float
    posture: dict[str, float] = field(default_factory=dict)  # trunk and limb angles, degrees / cm
    condition: str = "custom"

    def to_dict(self, fps: float) -> dict:
        """JSON labels; ``parameters`` has the ``{name: {value, unit}}`` shape of ``python -m core gait``."""
        return {
            "condition": self.condition,
            "height_cm": self.height_cm,
            "parameters": {
                name: {"value": round(float(value), 4), "unit": GAITRITE_UNITS[name]}
                for name, value in self.parameters.items()
            },
            "posture": {name: round(float(value), 3) for name, value in self.posture.items()},
            "events": self.events.to_dict(fps),
        }


# --- footstep plan ----------------------------------------------------------------------------------------


def plan_footfalls(
    params: GaitParameters, body: Body, duration_s: float, rng: np.random.Generator
) -> Footfalls:
    """Footfalls covering ``[0, duration_s]`` with margins, so every frame has both feet defined.

    Step-to-step scatter is drawn for time and length, then centred on the steps inside the clip, so the
    clip's means are the requested ones and its CVs scatter around the requested CVs.
    """
    cycle = params.cycle_time_s
    margin = 1.5 * cycle + 0.5
    n = int(np.ceil((duration_s + 2 * margin) / (cycle / 2))) + 4
    first_left = bool(rng.integers(2))
    is_left = (np.arange(n) % 2 == 0) == first_left

    side_share = np.where(is_left, 1 + params.step_time_asymmetry / 2, 1 - params.step_time_asymmetry / 2)
    length_share = np.where(
        is_left, 1 + params.step_length_asymmetry / 2, 1 - params.step_length_asymmetry / 2
    )
    # Two steps make a stride, so a step's scatter is sqrt(2) times the stride CV.
    time_noise = rng.normal(0.0, np.sqrt(2) * params.stride_time_cv_pct / 100, n)
    length_noise = rng.normal(0.0, np.sqrt(2) * params.stride_length_cv_pct / 100, n)
    start = -margin - rng.uniform(0.0, cycle / 2)
    nominal_times = start + np.cumsum(side_share * cycle / 2)
    inside = (nominal_times >= 0) & (nominal_times <= duration_s)
    stance_noise = rng.normal(0.0, STANCE_SCATTER_PCT / 100, n)
    for noise in (time_noise, length_noise, stance_noise):
        noise -= noise[inside].mean()

    step_time = side_share * cycle / 2 * (1 + time_noise)
    heel_strike = start + np.cumsum(step_time)
    step_length = length_share * params.step_length_cm / 100 * (1 + length_noise)
    heel_x = np.cumsum(step_length)
    half_base = params.base_width_cm / 200
    heel_y = np.where(is_left, half_base, -half_base) + rng.normal(0.0, LATERAL_SCATTER_CM / 100, n)
    toe_out = params.toe_out_deg + rng.normal(0.0, TOE_OUT_SCATTER_DEG, n)
    yaw = np.where(is_left, toe_out, -toe_out)

    # The cycle of footfall i lasts until the same foot's next heel strike.
    next_same = np.append(heel_strike[2:], heel_strike[-2:] + 2 * (heel_strike[-1] - heel_strike[-2]))
    cycle_i = next_same - heel_strike
    stance_share = np.where(is_left, params.stance_left_pct, params.stance_right_pct) / 100 + stance_noise
    toe_off = heel_strike + stance_share * cycle_i
    heel_off = toe_off - FOREFOOT_ROCKER_SHARE * cycle_i
    foot_flat = heel_strike + np.minimum(FOOT_FLAT_SHARE * cycle_i, 0.5 * (heel_off - heel_strike))
    # Walking needs a double support after every heel strike: the other foot leaves after this one lands.
    if np.any(toe_off[:-1] <= heel_strike[1:]):
        raise InputError(
            "this stance share and step-time asymmetry leave no double support: one foot would leave the "
            "ground before the other lands (that is running); raise the stance % or lower the asymmetry"
        )
    return Footfalls(
        is_left=is_left,
        heel_strike_s=heel_strike,
        foot_flat_s=foot_flat,
        heel_off_s=heel_off,
        toe_off_s=toe_off,
        heel_m=np.column_stack([heel_x, heel_y]),
        yaw_deg=yaw,
    )


# --- foot paths -------------------------------------------------------------------------------------------


def _foot_direction(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    return np.column_stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])


def _planted_toe(heel_xy: np.ndarray, yaw_deg: np.ndarray, length_m: float) -> np.ndarray:
    """(n, 3) tip of the toes of a foot lying flat with its heel at ``heel_xy``."""
    flat = _foot_direction(yaw_deg, np.zeros(len(yaw_deg)))
    return np.column_stack([heel_xy, np.zeros(len(heel_xy))]) + length_m * flat


def _hermite(p0, v0, p1, v1, u, duration):
    """Cubic Hermite from p0 (velocity v0) to p1 (velocity v1); u in [0, 1], velocities per second."""
    u = u[:, None]
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
    d = duration[:, None]
    return h00 * p0 + h10 * d * v0 + h01 * p1 + h11 * d * v1


def foot_path(
    params: GaitParameters, body: Body, falls: Footfalls, left: bool, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heel position (T, 3), pitch (T,) and yaw (T,) of one foot; angles in degrees, toes up > 0.

    Stance: heel rocker (heel still, foot lowers), foot flat, forefoot rocker (toes still, heel rises).
    Swing: heel on a Hermite path from toe off to the next heel strike plus an early lift.
    """
    idx = falls.side(left)
    hs, ff, ho, to = (
        getattr(falls, n)[idx] for n in ("heel_strike_s", "foot_flat_s", "heel_off_s", "toe_off_s")
    )
    heel_xy, yaw_k = falls.heel_m[idx], falls.yaw_deg[idx]
    length = body.foot_length_m
    k = np.clip(np.searchsorted(hs, t, side="right") - 1, 0, len(hs) - 2)

    heel = np.zeros((len(t), 3))
    heel[:, :2] = heel_xy[k]
    pitch = np.zeros(len(t))
    yaw = yaw_k[k].astype(float)

    rocker = t < ff[k]
    u = (t[rocker] - hs[k[rocker]]) / (ff[k[rocker]] - hs[k[rocker]])
    pitch[rocker] = params.heel_strike_angle_deg * (1 - minimum_jerk(u))

    push = (t >= ho[k]) & (t < to[k])
    kp = k[push]
    u = (t[push] - ho[kp]) / (to[kp] - ho[kp])
    pitch[push] = -params.toe_off_angle_deg * u**2
    heel[push] = _planted_toe(heel_xy[kp], yaw_k[kp], length) - length * _foot_direction(
        yaw[push], pitch[push]
    )

    swing = t >= to[k]
    ks = k[swing]
    duration = hs[ks + 1] - to[ks]
    u = (t[swing] - to[ks]) / duration
    # State at toe off: heel up behind the planted toes, rising at the forefoot rocker's final rate.
    p_off = np.full(len(ks), -params.toe_off_angle_deg)
    heel_off_pos = _planted_toe(heel_xy[ks], yaw_k[ks], length) - length * _foot_direction(yaw_k[ks], p_off)
    rate = -2 * np.radians(params.toe_off_angle_deg) / (to[ks] - ho[ks])  # d pitch / dt at toe off
    p = np.radians(p_off)
    yaw_r = np.radians(yaw_k[ks])
    d_dir = np.column_stack([-np.sin(p) * np.cos(yaw_r), -np.sin(p) * np.sin(yaw_r), np.cos(p)])
    # Half the rocker's final rate: the knee, already flexing at toe off, brakes the heel's rise.
    heel_velocity = -0.5 * length * d_dir * rate[:, None]
    land = np.column_stack([heel_xy[ks + 1], np.zeros(len(ks))])
    heel[swing] = _hermite(heel_off_pos, heel_velocity, land, 0.0, u, duration)
    bump = u**2 * (1 - u) ** 3 / _LIFT_PEAK
    heel[swing, 2] += params.foot_lift_cm / 100 * bump
    circumduction = params.circumduction_left_cm if left else -params.circumduction_right_cm
    heel[swing, 1] += circumduction / 100 * np.sin(np.pi * u) ** 2
    pitch[swing] = -params.toe_off_angle_deg + (params.heel_strike_angle_deg + params.toe_off_angle_deg) * (
        3 * u**2 - 2 * u**3
    )
    yaw[swing] = yaw_k[ks] + (yaw_k[ks + 1] - yaw_k[ks]) * minimum_jerk(u)
    # Never through the floor: lift the whole foot where its lowest point would dip below the ground.
    toe_z = heel[:, 2] + length * np.sin(np.radians(pitch))
    heel[:, 2] += np.maximum(0.0, -np.minimum(heel[:, 2], toe_z))
    return heel, pitch, yaw


def _foot_frame(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    return rot_z(yaw_deg) @ rot_y(-pitch_deg)


def knee_by_inverse_kinematics(
    hip: np.ndarray, ankle: np.ndarray, thigh_m: float, shank_m: float, forward: np.ndarray
) -> np.ndarray:
    """(T, 3) knee of a two-bone leg between ``hip`` and ``ankle``, bending towards ``forward``."""
    along = ankle - hip
    reach = np.linalg.norm(along, axis=1)
    u = along / reach[:, None]
    reach = np.clip(reach, abs(thigh_m - shank_m) + 1e-6, thigh_m + shank_m - 1e-9)
    cos_hip = (thigh_m**2 + reach**2 - shank_m**2) / (2 * thigh_m * reach)
    pole = forward - np.sum(forward * u, axis=1, keepdims=True) * u
    pole /= np.linalg.norm(pole, axis=1, keepdims=True)
    return hip + thigh_m * (cos_hip[:, None] * u + np.sqrt(1 - cos_hip**2)[:, None] * pole)


def _gait_phase(falls: Footfalls, t: np.ndarray) -> np.ndarray:
    """Left-foot cycle phase in cycles (0 at each left heel strike), continuous over the clip."""
    left = falls.heel_strike_s[falls.side(True)]
    return np.interp(t, left, np.arange(len(left)))


# --- the walk ---------------------------------------------------------------------------------------------


def walk(
    params: GaitParameters,
    body: Body,
    duration_s: float = 10.0,
    fps: float = 30.0,
    rng: np.random.Generator | None = None,
) -> tuple[Motion, GaitTruth]:
    """Simulate ``duration_s`` of steady walking and return the motion and its exact ground truth."""
    params.check(body)
    if duration_s < 2 * params.cycle_time_s:
        raise InputError(f"a {duration_s} s clip is too short for two gait cycles at this cadence")
    rng = np.random.default_rng() if rng is None else rng
    falls = plan_footfalls(params, body, duration_s, rng)
    # Start the walk with the pelvis over the origin.
    start_x = float(_pelvis_anchor_x(params, body, falls)(0.0))
    falls = replace(falls, heel_m=falls.heel_m - [start_x, 0.0])
    t = np.arange(round(duration_s * fps)) / fps
    phase = 2 * np.pi * _gait_phase(falls, t)

    feet = {}
    for left, side in ((True, "left"), (False, "right")):
        heel, pitch, yaw = foot_path(params, body, falls, left, t)
        frame = _foot_frame(yaw, pitch)
        ankle = heel + apply(frame, body.heel_to_ankle_m)
        toe = heel + apply(frame, [body.foot_length_m, 0.0, 0.0])
        feet[side] = (heel, ankle, toe, yaw)

    pelvis = _pelvis_path(params, body, falls, t)
    pelvis_frame = rot_z(-params.pelvis_rotation_deg * np.cos(phase)) @ rot_x(
        params.pelvis_obliquity_deg * np.sin(phase)
    )
    hips = {
        side: apply(pelvis_frame, [0.0, sign * body.hip_half_width_m, 0.0])
        for side, sign in (("left", 1.0), ("right", -1.0))
    }
    pelvis[:, 2] = _pelvis_height(params, body, pelvis, hips, feet, fps)

    parts: dict[str, np.ndarray] = {"pelvis": pelvis}
    for side in ("left", "right"):
        heel, ankle, toe, yaw = feet[side]
        hip = pelvis + hips[side]
        # Knees point between the foot and straight ahead, as they do with toes turned out.
        forward = np.column_stack(
            [np.cos(np.radians(yaw / 2)), np.sin(np.radians(yaw / 2)), np.zeros(len(t))]
        )
        parts[f"{side}_hip"] = hip
        parts[f"{side}_knee"] = knee_by_inverse_kinematics(hip, ankle, body.thigh_m, body.shank_m, forward)
        parts[f"{side}_ankle"], parts[f"{side}_heel"], parts[f"{side}_toe"] = ankle, heel, toe
    parts.update(_upper_body(params, body, pelvis, phase))

    motion = Motion(assemble(parts), fps, body, activity="walk", meta={"condition": params.condition})
    return motion, gait_truth(falls, motion, params)


def _pelvis_anchor_x(params: GaitParameters, body: Body, falls: Footfalls) -> CubicSpline:
    """Pelvis x through the heel strikes: midway between the trailing ankle and the landing heel."""
    step = np.diff(falls.heel_m[:, 0], prepend=falls.heel_m[0, 0] - params.step_length_cm / 100)
    # A flexed trunk carries the upper body forward; the pelvis moves back to keep the mass over the feet.
    lean_back = 0.25 * body.trunk_m * np.sin(np.radians(params.trunk_flexion_deg))
    return CubicSpline(
        falls.heel_strike_s, falls.heel_m[:, 0] + body.heel_to_ankle_m[0] - step / 2 - lean_back
    )


def _pelvis_path(params: GaitParameters, body: Body, falls: Footfalls, t: np.ndarray) -> np.ndarray:
    """Pelvis x and y (z is fitted to the legs later), swaying sideways over the standing foot."""
    x = _pelvis_anchor_x(params, body, falls)(t)
    mid_stance = (falls.foot_flat_s + falls.heel_off_s) / 2
    y = CubicSpline(mid_stance, PELVIS_SWAY_SHARE * falls.heel_m[:, 1])(t)
    return np.column_stack([x, y, np.zeros(len(t))])


def _pelvis_height(params, body, pelvis, hips, feet, fps) -> np.ndarray:
    """As high as both legs reach, capped by the asked mid-stance knee bend, smoothed like a real pelvis."""
    thigh, shank = body.thigh_m, body.shank_m
    reach = 0.998 * (thigh + shank)
    limits = []
    for side in ("left", "right"):
        hip = pelvis + hips[side]
        ankle = feet[side][1]
        horizontal = np.linalg.norm(hip[:, :2] - ankle[:, :2], axis=1)
        limits.append(ankle[:, 2] + np.sqrt(np.maximum(reach**2 - horizontal**2, 0.0)) - hips[side][:, 2])
    limit = np.minimum(*limits)
    knee = np.radians(params.stance_knee_flexion_deg)
    # Hip over ankle with the knee bent as asked; the standing side's hip rides higher by the obliquity.
    raised = body.hip_half_width_m * np.sin(np.radians(params.pelvis_obliquity_deg))
    crouch = body.ankle_height_m + np.sqrt(thigh**2 + shank**2 + 2 * thigh * shank * np.cos(knee)) - raised
    height = np.minimum(limit, crouch)
    for _ in range(4):
        height = np.minimum(gaussian_filter1d(height, 0.04 * fps, mode="nearest"), limit)
    # The legs' reach has a sharp low at double support; round it off below the reach (the knees give a
    # little as the leading foot takes the weight) instead of letting the pelvis bounce off it.
    height = gaussian_filter1d(height, 0.03 * fps, mode="nearest")
    overshoot = maximum_filter1d(np.maximum(height - limit, 0.0), round(0.2 * fps) | 1)
    height -= gaussian_filter1d(overshoot, 0.04 * fps, mode="nearest")
    return np.minimum(height, limit)


def _upper_body(params: GaitParameters, body: Body, pelvis: np.ndarray, phase: np.ndarray) -> dict:
    """Trunk, head and arms: trunk posture as asked, thorax counter-rotating, arms swinging with the legs."""
    flexion = params.trunk_flexion_deg + 1.0 * np.sin(2 * phase)
    lean = params.trunk_lean_deg - 1.5 * np.sin(phase)
    twist = 0.8 * params.pelvis_rotation_deg * np.cos(phase)  # thorax turns against the pelvis
    trunk = chain(rot_y(flexion), rot_x(lean), rot_z(twist))
    neck = pelvis + apply(trunk, [0.0, 0.0, body.trunk_m])
    # People with a flexed trunk extend the neck to keep looking ahead.
    head = trunk @ rot_y(-0.8 * flexion + 2.0 * np.sin(2 * phase))
    parts = {"neck": neck, **head_joints(body, neck, head)}
    hanging = rot_z(0.5 * twist)  # arms hang with gravity, turned a little with the thorax
    shoulders = shoulder_joints(body, neck, trunk)
    for side, sign, swing, elbow in (
        ("left", 1.0, params.arm_swing_left_deg, params.elbow_flexion_left_deg),
        ("right", -1.0, params.arm_swing_right_deg, params.elbow_flexion_right_deg),
    ):
        # The left arm is forward when the right leg is: at the right heel strike (phase pi).
        forward = -sign * np.cos(phase)
        parts[f"{side}_shoulder"] = shoulders[side]
        parts[f"{side}_elbow"], parts[f"{side}_wrist"] = arm_joints(
            body,
            shoulders[side],
            hanging,
            side,
            swing / 2 * forward,
            np.full(len(phase), 7.0),
            elbow + 0.3 * swing / 2 * (forward + 1),
        )
    return parts


# --- ground truth -----------------------------------------------------------------------------------------


def _cv(values: np.ndarray) -> float:
    return float(100 * np.std(values, ddof=1) / np.mean(values)) if len(values) > 1 else float("nan")


def gait_truth(falls: Footfalls, motion: Motion, params: GaitParameters) -> GaitTruth:
    """GAITRite parameters from the footfalls whose events fall inside the clip, plus posture from the body.

    Definitions (GAITRite manual): a step ends with the named foot's heel strike; a cycle runs from one
    heel strike of the named foot to its next; double support adds the initial (this foot lands, the other
    still down) and terminal (the other lands, this one still down) periods of the cycle; step length and
    base of support are measured against the line through the other foot's footprints before and after.
    """
    duration = motion.duration_s
    hs, to, heel = falls.heel_strike_s, falls.toe_off_s, falls.heel_m * 100
    n = len(hs)
    inside = (hs >= 0) & (hs <= duration)
    values: dict[str, float] = {}
    stride_lengths, cycle_times = [], []
    for left, side in ((True, "L"), (False, "R")):
        steps, step_times, cycles, strides, stance, double, base, toe = ([] for _ in range(8))
        for i in falls.side(left):
            if not inside[i]:
                continue
            if i >= 1 and inside[i - 1]:
                step_times.append(hs[i] - hs[i - 1])
                if i + 1 < n:
                    line = heel[i + 1] - heel[i - 1]
                    line /= np.linalg.norm(line)
                    rel = heel[i] - heel[i - 1]
                    steps.append(rel @ line)
                    if inside[i + 1]:
                        base.append(abs(line[0] * rel[1] - line[1] * rel[0]))
            if i + 2 < n and inside[i + 2] and to[i] <= duration:
                cycle = hs[i + 2] - hs[i]
                cycles.append(cycle)
                stride = heel[i + 2] - heel[i]
                strides.append(np.linalg.norm(stride))
                stance.append(100 * (to[i] - hs[i]) / cycle)
                if i >= 1:
                    double.append(100 * ((to[i - 1] - hs[i]) + (to[i] - hs[i + 1])) / cycle)
                turned = falls.yaw_deg[i] - np.degrees(np.arctan2(stride[1], stride[0]))
                toe.append(turned if left else -turned)
        if len(cycles) < 2:
            raise InputError("the clip is too short for two complete gait cycles per foot")
        values[f"Cycle Time(sec)/{side}"] = float(np.mean(cycles))
        values[f"Stride Length(cm)/{side}"] = float(np.mean(strides))
        values[f"Step Length(cm)/{side}"] = float(np.mean(steps))
        values[f"Step Time(sec)/{side}"] = float(np.mean(step_times))
        values[f"HH Base Support(cm)/{side}"] = float(np.mean(base))
        values[f"Swing % of Cycle/{side}"] = 100.0 - float(np.mean(stance))
        values[f"Stance % of Cycle/{side}"] = float(np.mean(stance))
        values[f"Double Supp % Cycle/{side}"] = float(np.mean(double))
        values[f"Toe In / Out/{side}"] = float(np.mean(toe))
        values[f"CV Stride Length/{side}"] = _cv(np.array(strides))
        values[f"CV Stride Time/{side}"] = _cv(np.array(cycles))
        stride_lengths += strides
        cycle_times += cycles
    mean_cycle = float(np.mean(cycle_times))
    values["Velocity"] = float(np.mean(stride_lengths)) / mean_cycle
    values["Cadence"] = 120.0 / mean_cycle
    parameters = {name: values[name] for name in GAITRITE_UNITS}

    def events(left: bool, times: np.ndarray) -> np.ndarray:
        chosen = times[falls.side(left)]
        return chosen[(chosen >= 0) & (chosen <= duration)]

    gait_events = GaitEvents(events(True, hs), events(True, to), events(False, hs), events(False, to))
    return GaitTruth(
        parameters=parameters,
        events=gait_events,
        footfalls=falls,
        height_cm=motion.body.height_cm,
        posture=posture_measures(motion, falls),
        condition=params.condition,
    )


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def posture_measures(motion: Motion, falls: Footfalls | None = None) -> dict[str, float]:
    """Trunk, knee, arm and foot measures of a walk in its path frame (walking along +x), from the joints."""
    j = motion.joint
    t = motion.time_s
    trunk = j("neck") - j("pelvis")
    out = {
        "trunk_flexion_deg": float(np.mean(np.degrees(np.arctan2(trunk[:, 0], trunk[:, 2])))),
        "trunk_lean_deg": float(np.mean(np.degrees(np.arctan2(-trunk[:, 1], trunk[:, 2])))),
        "pelvis_vertical_excursion_cm": float(100 * np.ptp(j("pelvis")[:, 2])),
    }
    for side in ("left", "right"):
        knee = 180.0 - _angle_between(
            j(f"{side}_hip") - j(f"{side}_knee"), j(f"{side}_ankle") - j(f"{side}_knee")
        )
        arm = j(f"{side}_elbow") - j(f"{side}_shoulder")
        out[f"{side}_knee_flexion_max_deg"] = float(np.max(knee))
        out[f"{side}_arm_swing_deg"] = float(np.ptp(np.degrees(np.arctan2(arm[:, 0], -arm[:, 2]))))
        if falls is None:
            continue
        flat = np.zeros(len(t), dtype=bool)
        clearance = []
        lowest = np.minimum(j(f"{side}_heel")[:, 2], j(f"{side}_toe")[:, 2])
        for i in falls.side(side == "left"):
            # Mid-stance: the middle fifth of the foot-flat phase, when the body passes over the foot.
            middle = (falls.foot_flat_s[i] + falls.heel_off_s[i]) / 2
            flat |= np.abs(t - middle) <= (falls.heel_off_s[i] - falls.foot_flat_s[i]) / 10
            if i + 2 < len(falls.is_left) and falls.toe_off_s[i] >= 0 and falls.heel_strike_s[i + 2] <= t[-1]:
                in_swing = (t >= falls.toe_off_s[i]) & (t < falls.heel_strike_s[i + 2])
                clearance.append(lowest[in_swing].max())
        out[f"{side}_knee_flexion_midstance_deg"] = float(np.mean(knee[flat]))
        out[f"{side}_foot_clearance_cm"] = float(100 * np.mean(clearance))
    return out


# --- clinical presentations -------------------------------------------------------------------------------

CONDITIONS: tuple[str, ...] = (
    "normal",
    "elderly",
    "inph",
    "hemiparetic",
    "asd",
    "lumbar_stenosis",
    "disc_herniation",
)


def sample_gait(condition: str, body: Body, rng: np.random.Generator) -> GaitParameters:
    """Draw one subject's gait for a clinical presentation, within published ranges for that group.

    Step length is drawn as a share of height (adults step about 0.36-0.45 of their height), so velocity
    follows from step length x cadence: normal adults about 100-150 cm/s at 100-125 steps/min, stance
    ~61 %; elderly: slower, wider, more variable; INPH: 40-80 cm/s from 30-45 cm steps, 15-25 cm base,
    feet barely lifted, toes out; hemiparetic: one side with shorter stance and longer swing, a
    circumducting leg, a flexed arm that does not swing; ASD: trunk flexed 15-45 degrees with compensatory
    knee flexion and little arm swing; lumbar stenosis and disc herniation: milder forward or sideways
    (antalgic) lean.
    """
    u = rng.uniform
    height = body.height_cm
    if condition == "normal":
        cadence, step = u(100, 125), height * u(0.36, 0.45)
        base = dict(stance_pct=u(59.5, 62.5), base_width_cm=u(6, 12), toe_out_deg=u(2, 10))
        extra = dict(stride_time_cv_pct=u(1, 2.5), stride_length_cv_pct=u(1, 2.5), trunk_flexion_deg=u(0, 6))
    elif condition == "elderly":
        cadence, step = u(95, 118), height * u(0.27, 0.37)
        base = dict(stance_pct=u(62, 65), base_width_cm=u(9, 14), toe_out_deg=u(5, 12))
        extra = dict(
            stride_time_cv_pct=u(2, 4),
            stride_length_cv_pct=u(2, 4),
            trunk_flexion_deg=u(3, 12),
            foot_lift_cm=u(0.5, 2),
            arm_swing_left_deg=u(15, 30),
            toe_off_angle_deg=u(25, 35),
        )
    elif condition == "inph":
        cadence, step = u(85, 105), u(30, 45)
        base = dict(stance_pct=u(65, 70), base_width_cm=u(15, 25), toe_out_deg=u(10, 20))
        extra = dict(
            stride_time_cv_pct=u(3, 7),
            stride_length_cv_pct=u(4, 8),
            foot_lift_cm=u(0, 0.5),
            heel_strike_angle_deg=u(0, 6),
            toe_off_angle_deg=u(8, 18),
            trunk_flexion_deg=u(5, 15),
            stance_knee_flexion_deg=u(10, 18),
            arm_swing_left_deg=u(10, 25),
        )
    elif condition == "hemiparetic":
        cadence, step = u(75, 100), height * u(0.18, 0.32)
        paretic_left = bool(rng.integers(2))
        sign = 1.0 if paretic_left else -1.0
        arm_swing = u(0, 6)
        # The paretic leg stands less and swings longer; the sound leg's step (landing it) is shorter.
        base = dict(stance_pct=u(63, 68), base_width_cm=u(10, 18), toe_out_deg=u(5, 15))
        extra = dict(
            stance_asymmetry_pct=-sign * u(5, 12),
            step_length_asymmetry=sign * u(0.1, 0.3),
            step_time_asymmetry=sign * u(0.05, 0.2),
            stride_time_cv_pct=u(3, 6),
            stride_length_cv_pct=u(3, 6),
            trunk_flexion_deg=u(3, 10),
            **{
                f"circumduction_{'left' if paretic_left else 'right'}_cm": u(3, 8),
                f"arm_swing_{'left' if paretic_left else 'right'}_deg": arm_swing,
                f"elbow_flexion_{'left' if paretic_left else 'right'}_deg": u(50, 90),
            },
        )
    elif condition == "asd":
        cadence, step = u(90, 115), height * u(0.24, 0.34)
        base = dict(stance_pct=u(62, 66), base_width_cm=u(9, 16), toe_out_deg=u(5, 15))
        trunk = u(15, 45)
        extra = dict(
            trunk_flexion_deg=trunk,
            trunk_lean_deg=rng.choice([-1, 1]) * u(0, 10),
            stance_knee_flexion_deg=float(np.clip(8 + 0.5 * trunk + rng.normal(0, 3), 10, 35)),
            arm_swing_left_deg=u(5, 20),
            stride_time_cv_pct=u(2, 5),
            stride_length_cv_pct=u(2, 5),
            foot_lift_cm=u(0.5, 2),
        )
    elif condition == "lumbar_stenosis":
        cadence, step = u(95, 118), height * u(0.28, 0.40)
        base = dict(stance_pct=u(61, 64), base_width_cm=u(8, 14), toe_out_deg=u(4, 12))
        extra = dict(
            trunk_flexion_deg=u(5, 18),
            stance_knee_flexion_deg=u(8, 15),
            arm_swing_left_deg=u(15, 35),
            stride_time_cv_pct=u(1.5, 4),
            stride_length_cv_pct=u(1.5, 4),
        )
    elif condition == "disc_herniation":
        cadence, step = u(95, 120), height * u(0.30, 0.42)
        painful_left = bool(rng.integers(2))
        base = dict(stance_pct=u(60, 64), base_width_cm=u(8, 13), toe_out_deg=u(3, 10))
        extra = dict(
            trunk_flexion_deg=u(2, 12),
            trunk_lean_deg=(1 if painful_left else -1) * u(3, 10),  # leans away from the painful side
            stance_asymmetry_pct=(-1 if painful_left else 1) * u(1, 5),
            arm_swing_left_deg=u(20, 40),
        )
    else:
        raise InputError(f"unknown gait condition {condition!r}; choose one of {', '.join(CONDITIONS)}")
    if "arm_swing_left_deg" in extra and "arm_swing_right_deg" not in extra:
        extra["arm_swing_right_deg"] = extra["arm_swing_left_deg"] * u(0.85, 1.15)
    return GaitParameters(
        cadence_steps_min=round(cadence, 2),
        step_length_cm=round(step, 2),
        condition=condition,
        **base,
        **extra,
    )
