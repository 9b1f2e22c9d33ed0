"""Simulated falls and look-alikes: the labels must cover the motion, and falls must differ from look-alikes
the way real ones do (speed and control), not by shortcuts such as how low the head ends up."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.synth.body import Body
from core.synth.falls import ACTIVITIES, LOOKALIKES, MIN_LYING_S, simulate_activity
from core.synth.skeleton import J

FPS = 60.0
FALLS = [a for a in ACTIVITIES if a.startswith("fall_")]


def _run(activity: str, seed: int):
    rng = np.random.default_rng(seed)
    body = Body.sample(rng)
    motion, label = simulate_activity(activity, body, rng, 10.0, FPS)
    return body, motion, label


def _head_drop_speed(motion) -> float:
    """Fastest downward speed of the head (m/s)."""
    return float(-np.min(np.gradient(motion.joint("head_top")[:, 2]) * motion.fps))


@pytest.mark.parametrize("activity", FALLS)
@pytest.mark.parametrize("seed", [0, 1])
def test_fall_labels_cover_the_motion(activity, seed):
    body, motion, label = _run(activity, seed)
    assert label.is_fall
    assert motion.frames == 600  # AIHub: 10 s at 60 Hz
    start, end = label.fall_start_frame, label.fall_end_frame
    # Loss of balance to impact within realistic fall durations.
    assert 0.4 <= (end - start) / FPS <= 1.6
    head = motion.joint("head_top")[:, 2]
    low = head < 0.5 * body.height_m
    assert not low[:start].any()  # the head goes low only once the fall has started...
    assert low[end + round(0.6 * FPS) :].all()  # ...and stays down after impact
    assert (motion.frames - end) / FPS >= MIN_LYING_S
    # Before the fall the person is upright.
    assert head[: max(1, start - 5)].min() > 0.85 * body.height_m


@pytest.mark.parametrize("activity", [a for a in LOOKALIKES if a != "walk"])
def test_lookalikes_are_not_falls_but_move_the_head_down_slowly(activity):
    for seed in (0, 1):
        body, motion, label = _run(activity, seed)
        assert not label.is_fall
        assert label.to_dict()["sensordata"] == {"fall_start_frame": None, "fall_end_frame": None}
        assert label.to_dict()["scene_info"]["scene_IsFall"] is False
        head = motion.joint("head_top")[:, 2]
        assert head.min() < 0.85 * body.height_m  # they do go down (hard negatives)
        assert _head_drop_speed(motion) < 2.2


def test_falls_drop_the_head_faster_than_any_lookalike():
    fall_speeds = [_head_drop_speed(_run(a, s)[1]) for a in FALLS for s in (2, 3)]
    assert min(fall_speeds) > 2.5
    assert 3.0 <= np.median(fall_speeds) <= 6.0  # head velocities reported for real falls


def test_lying_down_ends_on_the_bed_or_the_floor():
    for seed in (0, 1, 2):
        body, bed, _ = _run("lie_down_bed", seed)
        assert 0.35 < bed.joint("head_top")[-1, 2] < 0.8  # on a mattress, not the floor
        body, floor, _ = _run("lie_down_floor", seed)
        assert floor.joint("head_top")[-1, 2] < 0.4
        body, up, _ = _run("get_up", seed)
        assert up.joint("head_top")[0, 2] < 0.4
        assert up.joint("head_top")[-1, 2] == pytest.approx(body.height_m, rel=0.05)


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_bodies_stay_whole_and_above_the_floor(activity):
    body, motion, _ = _run(activity, 5)
    assert motion.joints_m[:, :, 2].min() > -1e-6
    lengths = {
        "thigh": np.linalg.norm(motion.joint("left_hip") - motion.joint("left_knee"), axis=1),
        "shank": np.linalg.norm(motion.joint("right_knee") - motion.joint("right_ankle"), axis=1),
        "forearm": np.linalg.norm(motion.joint("left_elbow") - motion.joint("left_wrist"), axis=1),
    }
    expected = {"thigh": body.thigh_m, "shank": body.shank_m, "forearm": body.forearm_m}
    # A fall from walking blends the walker into the fall over a quarter second; bones stay within 3 %.
    tolerance = 0.03 if activity.endswith("from_walking") else 1e-6
    for name, length in lengths.items():
        assert np.allclose(length, expected[name], rtol=tolerance)
    assert np.isfinite(motion.joints_m).all()
    assert motion.joints_m.shape[1] == len(J)


def test_falls_are_reproducible_from_the_seed():
    a = _run("fall_lateral_from_walking", 9)[1].joints_m
    b = _run("fall_lateral_from_walking", 9)[1].joints_m
    c = _run("fall_lateral_from_walking", 10)[1].joints_m
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unknown_activity_or_short_clip_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="unknown activity"):
        simulate_activity("cartwheel", Body(170.0), rng)
    with pytest.raises(InputError, match="at least 6 s"):
        simulate_activity("sit_down", Body(170.0), rng, duration_s=3.0)


def test_every_activity_plan_fits_a_10_s_clip_for_any_subject():
    for activity in ACTIVITIES:
        for seed in range(40):
            _body, motion, _label = _run(activity, 1000 + seed)
            assert motion.frames == 600


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_getting_up_from_the_floor_does_not_slide_or_leap(seed):
    """Feet planted after lying stay where the body was (no jump back to where the clip started), and the
    rise is slow enough that a waist sensor does not read it as a fall."""
    from core.fall.sensor import detect_falls_in_recording
    from core.synth.sensors import single_device

    _, up, _ = _run("get_up", seed)
    pelvis = up.joint("pelvis")
    horizontal_speed = np.linalg.norm(np.gradient(pelvis[:, :2], axis=0), axis=1) * up.fps
    assert horizontal_speed.max() < 0.8
    recording = single_device(up, "waist", np.random.default_rng(seed))
    assert not detect_falls_in_recording(recording).fall
