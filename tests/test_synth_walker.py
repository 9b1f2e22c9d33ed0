"""The simulated walker: its ground truth must be exact and its body must show the gait it claims."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from core.errors import InputError
from core.synth.body import Body, posed_joints
from core.synth.camera import camera_for_view
from core.synth.skeleton import J
from core.synth.walker import GAITRITE_UNITS, GaitParameters, sample_gait, walk

FPS = 60.0


def _walk(params: GaitParameters, seed: int = 0, height_cm: float = 172.0, duration_s: float = 10.0):
    return walk(params, Body(height_cm), duration_s, FPS, np.random.default_rng(seed))


def _mean(parameters: dict, name: str) -> float:
    return (parameters[f"{name}/L"] + parameters[f"{name}/R"]) / 2


@pytest.mark.parametrize("seed", range(5))
def test_requested_step_length_cadence_and_trunk_angle_come_back_within_1_percent(seed):
    rng = np.random.default_rng(100 + seed)
    asked = GaitParameters(
        cadence_steps_min=float(rng.uniform(90, 125)),
        step_length_cm=float(rng.uniform(40, 75)),
        trunk_flexion_deg=float(rng.uniform(15, 40)),
        stride_time_cv_pct=2.0,
        stride_length_cv_pct=2.0,
    )
    _motion, truth = _walk(asked, seed, height_cm=float(rng.uniform(150, 195)))
    p = truth.parameters
    assert _mean(p, "Step Length(cm)") == pytest.approx(asked.step_length_cm, rel=0.01)
    assert p["Cadence"] == pytest.approx(asked.cadence_steps_min, rel=0.01)
    assert truth.posture["trunk_flexion_deg"] == pytest.approx(asked.trunk_flexion_deg, rel=0.01)
    assert p["Velocity"] == pytest.approx(asked.velocity_cm_s, rel=0.015)


@pytest.mark.parametrize("condition", ["normal", "elderly", "inph", "hemiparetic", "asd"])
def test_gaitrite_identities_hold(condition):
    rng = np.random.default_rng(7)
    body = Body.sample(rng)
    _motion, truth = walk(sample_gait(condition, body, rng), body, 10.0, FPS, rng)
    p = truth.parameters
    assert list(p) == list(GAITRITE_UNITS)
    for side in "LR":
        assert p[f"Stance % of Cycle/{side}"] + p[f"Swing % of Cycle/{side}"] == pytest.approx(100.0)
        assert 0 < p[f"Double Supp % Cycle/{side}"] < p[f"Stance % of Cycle/{side}"]
    # Cadence (steps/min) is 120 / mean stride time; velocity is stride length / stride time.
    cycle = _mean(p, "Cycle Time(sec)")
    assert p["Cadence"] == pytest.approx(120.0 / cycle, rel=0.01)
    assert p["Velocity"] == pytest.approx(_mean(p, "Stride Length(cm)") / cycle, rel=0.01)
    assert _mean(p, "Stride Length(cm)") == pytest.approx(2 * _mean(p, "Step Length(cm)"), rel=0.02)


def test_left_and_right_events_alternate():
    _motion, truth = _walk(GaitParameters(step_time_asymmetry=0.1, stance_asymmetry_pct=4.0), seed=3)
    e = truth.events
    strikes = sorted([(t, "L") for t in e.left_heel_strike_s] + [(t, "R") for t in e.right_heel_strike_s])
    offs = sorted([(t, "L") for t in e.left_toe_off_s] + [(t, "R") for t in e.right_toe_off_s])
    for events in (strikes, offs):
        sides = [side for _t, side in events]
        assert all(a != b for a, b in pairwise(sides))
    # Each foot: heel strike, then its toe off, then the next heel strike.
    for hs, to in ((e.left_heel_strike_s, e.left_toe_off_s), (e.right_heel_strike_s, e.right_toe_off_s)):
        for t in hs[:-1]:
            next_off = to[to > t][0]
            assert next_off < hs[hs > t][0]


def test_feet_are_planted_in_stance_and_lifted_in_swing():
    motion, truth = _walk(GaitParameters(), seed=1)
    f, t = truth.footfalls, motion.time_s
    for i, left in enumerate(f.is_left):
        side = "left" if left else "right"
        heel, toe = motion.joint(f"{side}_heel"), motion.joint(f"{side}_toe")
        heel_down = (t >= f.heel_strike_s[i]) & (t <= f.heel_off_s[i])
        toe_down = (t >= f.foot_flat_s[i]) & (t <= f.toe_off_s[i])
        if heel_down.sum() > 1:
            assert np.ptp(heel[heel_down], axis=0).max() < 1e-9
            assert np.allclose(heel[heel_down, 2], 0.0)
        if toe_down.sum() > 1:
            assert np.ptp(toe[toe_down], axis=0).max() < 1e-9
        if i + 2 < len(f.is_left):
            mid_swing = np.abs(t - (f.toe_off_s[i] + f.heel_strike_s[i + 2]) / 2) < 0.5 / FPS
            if mid_swing.any():
                assert min(heel[mid_swing, 2].min(), toe[mid_swing, 2].min()) > 0.01
    assert motion.joints_m[:, :, 2].min() >= -1e-9  # nothing goes through the floor


def test_step_lengths_and_speed_measured_on_the_body_match_the_truth():
    motion, truth = _walk(GaitParameters(step_length_cm=70.0, cadence_steps_min=110.0), seed=2)
    f, t = truth.footfalls, motion.time_s
    landed = {}
    for i, left in enumerate(f.is_left):
        frames = np.flatnonzero((t >= f.heel_strike_s[i]) & (t <= f.heel_off_s[i]))
        if len(frames) and f.heel_strike_s[i] >= 0:
            landed[i] = motion.joint("left_heel" if left else "right_heel")[frames[0], :2]
    steps = {"L": [], "R": []}
    for i in landed:
        if i - 1 in landed and i + 1 < len(f.is_left):
            steps["L" if f.is_left[i] else "R"].append(100 * (landed[i][0] - landed[i - 1][0]))
    for side in "LR":
        assert np.mean(steps[side]) == pytest.approx(truth.parameters[f"Step Length(cm)/{side}"], abs=1.0)
    pelvis = motion.joint("pelvis")
    speed = 100 * (pelvis[-1, 0] - pelvis[0, 0]) / (t[-1] - t[0])
    assert speed == pytest.approx(truth.parameters["Velocity"], rel=0.03)


def test_normal_gait_looks_like_normal_gait():
    motion, truth = _walk(GaitParameters(), seed=4)
    post = truth.posture
    for side in ("left", "right"):
        assert 50 <= post[f"{side}_knee_flexion_max_deg"] <= 80  # swing knee flexion ~60-65 in adults
        assert 3 <= post[f"{side}_knee_flexion_midstance_deg"] <= 20
    assert 2.0 <= post["pelvis_vertical_excursion_cm"] <= 6.0
    # Arms swing against the legs: the left wrist is forward when the left ankle is back.
    pelvis_x = motion.joint("pelvis")[:, 0]
    ankle = motion.joint("left_ankle")[:, 0] - pelvis_x
    wrist = motion.joint("left_wrist")[:, 0] - pelvis_x
    assert np.corrcoef(ankle, wrist)[0, 1] < -0.5
    # The pelvis is highest in single support, lowest around double support.
    height = motion.joint("pelvis")[:, 2]
    at_strike = np.round(truth.events.left_heel_strike_s * FPS).astype(int)
    assert height[at_strike[at_strike < len(height)]].mean() < height.mean()


def test_pathological_patterns_show_in_the_truth():
    rng = np.random.default_rng(11)
    body = Body(170.0)
    inph = walk(sample_gait("inph", body, rng), body, 10.0, FPS, rng)[1]
    normal = walk(sample_gait("normal", body, rng), body, 10.0, FPS, rng)[1]
    crouched = sample_gait("asd", body, rng)
    asd = walk(crouched, body, 10.0, FPS, rng)[1]
    hemi = walk(sample_gait("hemiparetic", body, rng), body, 10.0, FPS, rng)[1]
    p = inph.parameters
    assert 40 <= p["Velocity"] <= 80
    assert 28 <= _mean(p, "Step Length(cm)") <= 47
    assert 14 <= _mean(p, "HH Base Support(cm)") <= 26
    assert inph.posture["left_foot_clearance_cm"] < normal.posture["left_foot_clearance_cm"] / 2
    assert 15 <= asd.posture["trunk_flexion_deg"] <= 45
    for side in ("left", "right"):
        knee = asd.posture[f"{side}_knee_flexion_midstance_deg"]
        assert knee == pytest.approx(crouched.stance_knee_flexion_deg, abs=3.0)
    assert asd.posture["left_arm_swing_deg"] < normal.posture["left_arm_swing_deg"]
    h = hemi.parameters
    assert abs(h["Stance % of Cycle/L"] - h["Stance % of Cycle/R"]) > 4
    assert abs(h["Step Length(cm)/L"] - h["Step Length(cm)/R"]) > 2


def test_events_can_be_recovered_from_2d_keypoints_side_and_front():
    """A side-view detector (Zeni: heel strike when the ankle is furthest ahead of the hips) finds the
    heel strikes within 2 frames; a front view shows the stance foot still and the swing foot moving."""
    motion, truth = _walk(GaitParameters(), seed=5)
    video = motion.every(2)  # 30 fps
    rng = np.random.default_rng(0)
    side = camera_for_view("across", video, rng)
    uv, _ = side.project(video.joints_m)
    direction = np.sign(uv[-1, J["pelvis"], 0] - uv[0, J["pelvis"], 0])
    ahead = direction * (uv[:, J["left_ankle"], 0] - (uv[:, J["left_hip"], 0] + uv[:, J["right_hip"], 0]) / 2)
    peaks = [i for i in range(1, len(ahead) - 1) if ahead[i] >= ahead[i - 1] and ahead[i] > ahead[i + 1]]
    truth_frames = truth.events.left_heel_strike_s * video.fps
    for frame in truth_frames[(truth_frames > 2) & (truth_frames < len(ahead) - 2)]:
        assert min(abs(p - frame) for p in peaks) <= 2.0

    front = camera_for_view("toward", video, rng)
    uv, _ = front.project(video.joints_m)
    speed = np.linalg.norm(np.diff(uv[:, J["left_ankle"]], axis=0), axis=1)  # px per frame
    f, t = truth.footfalls, video.time_s[:-1]
    for i in np.flatnonzero(f.is_left):
        flat = (t >= f.foot_flat_s[i]) & (t + 1 / video.fps <= f.heel_off_s[i])
        if flat.any():
            assert speed[flat].max() < 0.01
    assert np.percentile(speed, 95) > 5.0


def test_impossible_walks_are_refused_in_clinical_words():
    with pytest.raises(InputError, match="stance"):
        _walk(GaitParameters(stance_pct=45.0))
    with pytest.raises(InputError, match="cadence"):
        _walk(GaitParameters(cadence_steps_min=0.0))
    with pytest.raises(InputError, match="double support"):
        _walk(GaitParameters(stance_pct=53.0, step_time_asymmetry=0.4))
    with pytest.raises(InputError):
        Body(40.0)


@pytest.mark.parametrize("height_cm", [150.0, 172.0, 195.0])
def test_standing_body_is_as_tall_as_asked(height_cm):
    body = Body(height_cm)
    joints = posed_joints(body, {}, 1)
    joints[..., 2] -= joints[0, J["left_heel"], 2]
    assert joints[0, J["head_top"], 2] == pytest.approx(body.height_m, abs=1e-9)
    assert np.linalg.norm(joints[0, J["left_hip"]] - joints[0, J["left_knee"]]) == pytest.approx(body.thigh_m)
    sway = replace(body, leg_ratio=1.04)
    assert posed_joints(sway, {}, 1)[0, J["head_top"], 2] - posed_joints(sway, {}, 1)[
        0, J["left_heel"], 2
    ] == (pytest.approx(body.height_m))


@pytest.mark.parametrize("condition", ["normal", "elderly", "inph", "hemiparetic", "asd", "lumbar_stenosis"])
def test_every_sampled_subject_can_walk(condition):
    for seed in range(25):
        rng = np.random.default_rng(500 + seed)
        body = Body.sample(rng)
        params = sample_gait(condition, body, rng)
        _motion, truth = walk(params, body, 8.0, 30.0, rng)
        assert truth.parameters["Velocity"] == pytest.approx(params.velocity_cm_s, rel=0.03)
