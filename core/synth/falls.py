"""Falls and the everyday movements that fall detectors mistake for falls, with AIHub-style labels.

Falls: forward, backward and lateral, from standing or from walking (a trip, a slip, a loss of balance).
The body topples like an inverted pendulum on its feet (:func:`~core.synth.postures.pendulum_profile`):
from loss of balance to impact takes about 0.5-1.5 s depending on the start tilt, the push or walking
speed and how much the knees give; the person then lies still (a few small movements) until the clip ends,
at least 3 s.

Look-alikes ("hard negatives"): sitting down on a chair, lying down on a bed or on the floor (slowly, over
several seconds), bending to pick something up, squatting, kneeling, getting up from lying, and walking.
Their heads go low too - what separates them from falls is speed and control, which is exactly what a
detector must learn.

Labels follow AIHub's fall data: ``scene_info.scene_IsFall``, ``sensordata.fall_start_frame`` (loss of
balance) and ``sensordata.fall_end_frame`` (impact), ``null`` when there is no fall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.synth.body import Body, Motion, minimum_jerk
from core.synth.postures import POSES, Keyframe, choreograph, mirrored, pendulum_profile
from core.synth.walker import sample_gait, walk

FALL_DIRECTIONS = ("forward", "backward", "lateral")
LOOKALIKES = ("sit_down", "lie_down_bed", "lie_down_floor", "pick_up", "squat", "kneel", "get_up", "walk")
ACTIVITIES: tuple[str, ...] = (
    *(f"fall_{d}_from_{start}" for d in FALL_DIRECTIONS for start in ("standing", "walking")),
    *LOOKALIKES,
)
MIN_LYING_S = 3.0  # every fall clip shows the person down for at least this long
SETTLE_S = (0.3, 0.6)  # after impact the body settles into its lying posture
WALK_BLEND_S = 0.25  # a fall from walking takes over from the walker over this long


@dataclass(frozen=True)
class FallLabel:
    """What happened in a clip: the activity and, for a fall, when balance was lost and when it ended."""

    activity: str
    is_fall: bool
    fall_start_frame: int | None = None
    fall_end_frame: int | None = None
    direction: str | None = None  # forward, backward, left, right

    def to_dict(self) -> dict:
        """AIHub's label keys, plus the activity and fall direction."""
        return {
            "scene_info": {
                "scene_IsFall": self.is_fall,
                "activity": self.activity,
                "direction": self.direction,
            },
            "sensordata": {"fall_start_frame": self.fall_start_frame, "fall_end_frame": self.fall_end_frame},
        }


def simulate_activity(
    activity: str, body: Body, rng: np.random.Generator, duration_s: float = 10.0, fps: float = 60.0
) -> tuple[Motion, FallLabel]:
    """One clip of ``activity`` (see :data:`ACTIVITIES`), facing +x and starting around the origin."""
    if activity not in ACTIVITIES:
        raise InputError(f"unknown activity {activity!r}; choose one of {', '.join(ACTIVITIES)}")
    if duration_s < 6.0:
        raise InputError("fall and activity clips need at least 6 s (AIHub clips are 10 s)")
    if activity.startswith("fall_"):
        direction, start = activity[5:].split("_from_")
        return _fall(activity, direction, start == "walking", body, rng, duration_s, fps)
    if activity == "walk":
        params = sample_gait(str(rng.choice(["normal", "elderly", "inph"])), body, rng)
        motion, _ = walk(params, body, duration_s, fps, rng)
        return motion, FallLabel("walk", False)
    keyframes, bed = _LOOKALIKES[activity](body, rng, duration_s)
    motion = choreograph(body, keyframes, duration_s, fps, rng, bed_height_m=bed, activity=activity)
    return motion, FallLabel(activity, False)


# --- falls ------------------------------------------------------------------------------------------------


def _fall(activity, direction, from_walking, body, rng, duration_s, fps) -> tuple[Motion, FallLabel]:
    to_right = bool(rng.integers(2))
    # The toppling length is the centre of mass height, shortened as the knees give way.
    length = 0.55 * body.height_m * rng.uniform(0.75, 0.95)
    walker = None
    if from_walking:
        params = sample_gait(str(rng.choice(["normal", "elderly"])), body, rng)
        walker, _ = walk(params, body, duration_s, fps, rng)
        speed = params.velocity_cm_s / 100
        # A trip pitches the walking body over its caught foot: the fall starts with the walking momentum.
        rate = {
            "forward": speed / length,
            "backward": rng.uniform(0.6, 1.2),
            "lateral": rng.uniform(0.3, 0.9),
        }[direction]
    else:
        rate = rng.uniform(0.05, 0.6)
    fall_s, profile = pendulum_profile(rng.uniform(2.0, 6.0), rate, length)
    settle = rng.uniform(*SETTLE_S)
    latest = duration_s - fall_s - settle - MIN_LYING_S
    earliest = 2.0 if from_walking else 1.0
    if latest < earliest:
        raise InputError(
            f"a {duration_s} s clip is too short to show a fall and {MIN_LYING_S} s lying after it"
        )
    start = rng.uniform(earliest, latest)
    impact = start + fall_s

    falling, fallen = POSES[f"fall_{direction}"], POSES[f"fallen_{direction}"]
    if direction == "lateral" and not to_right:
        falling, fallen = mirrored(falling), mirrored(fallen)
    moved = dict(fallen)
    for name in ("left_shoulder_flexion", "right_knee_flexion", "head_flexion"):
        moved[name] = moved.get(name, 0.0) + rng.uniform(-15, 15)  # a small movement while lying
    upright = POSES["stride" if from_walking else "stand"]
    keyframes = [
        Keyframe(0.0, upright),
        Keyframe(start, upright),
        Keyframe(impact, falling, support="floor", anchor="feet", ease="fall"),
        Keyframe(impact + settle, fallen, support="floor", anchor="pelvis", move_m=(0.05, 0.0)),
        Keyframe(impact + settle + rng.uniform(1.0, MIN_LYING_S), fallen, support="floor", anchor="pelvis"),
        Keyframe(duration_s, moved, support="floor", anchor="pelvis"),
    ]
    motion = choreograph(body, keyframes, duration_s, fps, rng, fall_profile=profile, activity=activity)
    if walker is not None:
        motion = _take_over_from_walker(walker, motion, start)
    side = ("right" if to_right else "left") if direction == "lateral" else direction
    label = FallLabel(activity, True, round(start * fps), round(impact * fps), side)
    return motion, label


def _take_over_from_walker(walker: Motion, fall: Motion, start_s: float) -> Motion:
    """Walking until ``start_s``, then the fall, joined where the fall's pelvis meets the walker's."""
    t = walker.time_s
    i = min(round(start_s * walker.fps), walker.frames - 1)
    offset = walker.joint("pelvis")[i, :2] - fall.joint("pelvis")[i, :2]
    joints = fall.joints_m.copy()
    joints[:, :, :2] += offset
    w = minimum_jerk((t - start_s) / WALK_BLEND_S)[:, None, None]
    joints = (1 - w) * walker.joints_m + w * joints
    return Motion(joints, fall.fps, fall.body, activity=fall.activity)


# --- look-alikes ------------------------------------------------------------------------------------------


def _then(keys: list[Keyframe], seconds: float, pose: dict, **where) -> None:
    """Append a keyframe ``seconds`` after the last one."""
    keys.append(Keyframe(keys[-1].time_s + seconds, pose, **where))


def _standing_start(rng) -> list[Keyframe]:
    return [Keyframe(0.0, POSES["stand"]), Keyframe(rng.uniform(0.8, 2.5), POSES["stand"])]


def _finish(keys: list[Keyframe], duration_s: float) -> list[Keyframe]:
    """Hold the last posture to the end of the clip (and refuse a plan that runs past it)."""
    if keys[-1].time_s >= duration_s:
        raise InputError("this activity does not fit in the clip; use a longer clip")
    last = keys[-1]
    return [*keys, Keyframe(duration_s, last.pose, last.support, last.anchor)]


def _sit_down(body, rng, duration_s):
    keys = _standing_start(rng)
    down = rng.uniform(0.8, 2.5)  # quick sitting is the hardest negative
    _then(keys, 0.45 * down, POSES["sit_transition"])
    _then(keys, 0.55 * down, POSES["sit"])
    if duration_s - keys[-1].time_s > 5.0 and rng.random() < 0.5:
        up = rng.uniform(1.0, 2.5)
        _then(keys, rng.uniform(1.0, 2.0), POSES["sit"])
        _then(keys, 0.5 * up, POSES["sit_transition"])
        _then(keys, 0.5 * up, POSES["stand"])
    return _finish(keys, duration_s), 0.0


def _lie_down_bed(body, rng, duration_s):
    keys = _standing_start(rng)
    _then(keys, rng.uniform(1.2, 2.0), POSES["sit"])
    _then(keys, rng.uniform(0.5, 1.5), POSES["sit"])
    supine = {**POSES["lie_supine"], "yaw": 90.0}
    _then(keys, rng.uniform(1.5, 3.0), supine, support="bed", anchor="pelvis", move_m=(0.0, 0.15))
    # The bed is as high as the seat the person sat on (pelvis height sitting, less the buttocks).
    bed = body.shank_m + body.ankle_height_m - 0.12 * body.height_m / 1.75
    return _finish(keys, duration_s), bed


def _lie_down_floor(body, rng, duration_s):
    """Two ways down: over the knees and hands onto the front, or sitting down and lying back."""
    keys = _standing_start(rng)
    lying = {"support": "floor", "anchor": "pelvis"}
    _then(keys, rng.uniform(0.6, 1.0), POSES["crouch"])
    if rng.random() < 0.5:
        _then(keys, rng.uniform(0.6, 1.0), POSES["kneel"], support="floor")
        _then(keys, rng.uniform(1.5, 2.2), POSES["hands_knees"], **lying, move_m=(0.2, 0))
        _then(keys, rng.uniform(1.5, 2.5), POSES["lie_prone"], **lying, move_m=(0.3, 0))
    else:
        _then(keys, rng.uniform(1.0, 1.6), POSES["sit_floor"], **lying, move_m=(-0.3, 0))
        _then(keys, rng.uniform(1.5, 2.5), POSES["lie_supine"], **lying, move_m=(-0.1, 0))
    return _finish(keys, duration_s), 0.0


def _down_and_up(pose_name: str, hold: tuple[float, float], down: tuple[float, float], support: str = "feet"):
    """Go down into a posture, stay, come back up; sometimes twice. Kneeling passes through a crouch."""
    via = POSES["crouch"] if support == "floor" else None

    def plan(body, rng, duration_s):
        keys = _standing_start(rng)
        for repeat in range(2 if rng.random() < 0.3 else 1):
            phases = [rng.uniform(*down), rng.uniform(*hold), rng.uniform(*down), rng.uniform(0.3, 1.0)]
            room = duration_s - keys[-1].time_s - 0.1
            if sum(phases) > room:
                if repeat:
                    break
                phases = [x * room / sum(phases) for x in phases]  # the first one always fits: faster
            going, staying, coming, rest = phases
            pose = POSES[pose_name] if rng.random() < 0.5 else mirrored(POSES[pose_name])
            if via is not None:
                _then(keys, going / 2, via)
                going /= 2
            _then(keys, going, pose, support=support)
            _then(keys, staying, pose, support=support)
            if via is not None:
                _then(keys, coming / 2, via)
                coming /= 2
            _then(keys, coming, POSES["stand"])
            _then(keys, rest, POSES["stand"])
        return _finish(keys, duration_s), 0.0

    return plan


def _kneel(body, rng, duration_s):
    name = "kneel" if rng.random() < 0.5 else "half_kneel"
    return _down_and_up(name, (1.5, 3.5), (1.2, 2.2), support="floor")(body, rng, duration_s)


def _get_up(body, rng, duration_s):
    # Older people take 5-10 s to rise from the floor; the last pushes up are not leaps.
    lying = {"support": "floor", "anchor": "pelvis"}
    keys = [Keyframe(0.0, POSES["lie_supine"], **lying)]
    _then(keys, rng.uniform(0.5, 1.0), POSES["lie_supine"], **lying)
    _then(keys, rng.uniform(1.0, 1.6), POSES["sit_floor"], **lying)
    _then(keys, rng.uniform(1.2, 1.8), POSES["hands_knees"], **lying, move_m=(0.3, 0))
    _then(keys, rng.uniform(1.0, 1.4), POSES["half_kneel"], **lying, move_m=(-0.2, 0))
    _then(keys, rng.uniform(1.0, 1.6), POSES["crouch"])
    _then(keys, rng.uniform(1.0, 1.6), POSES["stand"])
    return _finish(keys, duration_s), 0.0


_LOOKALIKES = {
    "sit_down": _sit_down,
    "lie_down_bed": _lie_down_bed,
    "lie_down_floor": _lie_down_floor,
    "pick_up": _down_and_up("bend", (0.3, 1.2), (0.8, 1.5)),
    "squat": _down_and_up("squat", (1.0, 3.0), (1.0, 2.0)),
    "kneel": _kneel,
    "get_up": _get_up,
}
