"""The pose-noise model: measured like real YOLO output, it shows the documented calibration numbers."""

from __future__ import annotations

import numpy as np
import pytest

from core.synth.noise import (
    CALIBRATED,
    LEFT_RIGHT_PAIRS,
    VIEWS,
    PoseClip,
    PoseNoiseModel,
    ar1_filter_gain,
    jitter_window,
    measure_pose_noise,
    measure_pose_statistics,
    robust_std,
    size_bin,
)
from core.types import KEYPOINT_NAMES, FramePoses
from tests.synth_bodies import noise_test_scene

BODY = [n for n in KEYPOINT_NAMES if n not in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
# Tolerances: the simulated clips hold a few minutes of person-frames, and the noise is correlated in
# time (confidences for ~1.5 s), so sampling error, not model error, sets these widths.
JITTER_REL_TOL = 0.25
TAU_FACTOR = 1.6
BODY_MISSING_ABS_TOL = 0.04
FACE_MISSING_ABS_TOL = 0.1  # mean over the 5 face joints of a view
FACE_JOINT_MISSING_ABS_TOL = 0.3  # one face joint: few independent samples (confidences change slowly)
MARGIN_ABS_TOL = 0.02
MIN_COUNT = 200
CALIBRATION_LAG1_60FPS = 0.387  # the pooled calibration's residual lag-1 correlation at 60 fps (docstring)


@pytest.fixture(scope="module")
def simulated() -> dict:
    """The model's output on 4 simulated scenes (30 and 60 fps), measured with the calibration's code."""
    model = PoseNoiseModel()
    clips = []
    for seed, (fps, frames) in enumerate(((30.0, 240), (60.0, 360), (30.0, 240), (60.0, 360))):
        keypoints, visible, size, fps = noise_test_scene(n_frames=frames, fps=fps)
        out = model.apply(keypoints, visible, size, fps, np.random.default_rng(seed), imgsz=640)
        clips.append(
            PoseClip(out.frames, fps, size, 640, model.reference_frames(keypoints, size), f"sim{seed}")
        )
    return measure_pose_statistics(clips)


def test_jitter_matches_calibration(simulated):
    checked = 0
    for j, name in enumerate(KEYPOINT_NAMES):
        if simulated["jitter_n"][name] < MIN_COUNT:
            continue
        documented = CALIBRATED.jitter_pct[j]
        assert simulated["jitter_pct"][name] == pytest.approx(documented, rel=JITTER_REL_TOL), name
        checked += 1
    assert checked >= 10
    tau = simulated["jitter_tau_s"]
    assert CALIBRATED.jitter_tau_s / TAU_FACTOR < tau < CALIBRATED.jitter_tau_s * TAU_FACTOR
    for k, side in enumerate(("x1", "y1", "x2", "y2")):
        assert simulated["box_jitter_pct"][side] == pytest.approx(CALIBRATED.box_jitter_pct[k], rel=0.3)


def test_missing_joints_match_calibration(simulated):
    checked = 0
    for view in VIEWS:
        face_sim, face_doc = [], []
        for j, name in enumerate(KEYPOINT_NAMES):
            if simulated["missing_n_by_view"][view][name] < MIN_COUNT:
                continue
            measured = simulated["missing_rate_by_view"][view][name]
            documented = CALIBRATED.missing_rate_by_view[view][j]
            if name in BODY:
                assert measured == pytest.approx(documented, abs=BODY_MISSING_ABS_TOL), (view, name)
            else:
                assert measured == pytest.approx(documented, abs=FACE_JOINT_MISSING_ABS_TOL), (view, name)
                face_sim.append(measured)
                face_doc.append(documented)
            checked += 1
        if face_sim:
            assert np.mean(face_sim) == pytest.approx(np.mean(face_doc), abs=FACE_MISSING_ABS_TOL), view
    assert checked >= 40
    # joints hidden behind someone: YOLO still reports most of them, with lower confidence
    assert simulated["missing_rate_occluded"] == pytest.approx(CALIBRATED.missing_rate_occluded, abs=0.15)


def _poisson_close(observed: float, expected: float, spread: float = 1.0) -> bool:
    return abs(observed - expected) <= 3.0 * np.sqrt(max(expected, 1.0)) * spread + 2.0


def test_swaps_match_calibration(simulated):
    observed = expected = 0.0
    for group in LEFT_RIGHT_PAIRS:
        for view in VIEWS:
            cell = simulated["swaps"][group][view]
            observed += cell["events"]
            expected += CALIBRATED.swap_rate[group][view] * cell["frames"]
    assert expected > 10
    assert _poisson_close(observed, expected), (observed, expected)


def test_detection_misses_and_false_detections_match_calibration(simulated):
    n = np.array(simulated["detection_n_by_size"])
    rate = np.array([np.nan if r is None else r for r in simulated["detection_miss_by_size"]])
    used = n >= MIN_COUNT
    assert used.sum() >= 2
    observed = float(np.nansum(rate[used] * n[used]))
    expected = float(np.sum(np.array(CALIBRATED.detection_miss_by_size)[used] * n[used]))
    q = CALIBRATED.detection_miss_persistence
    # misses come in runs (persistence q), which widens the spread by sqrt((1 + q) / (1 - q))
    assert _poisson_close(observed, expected, np.sqrt((1 + q) / (1 - q))), (observed, expected)
    frames = simulated["reference_frames"]
    assert _poisson_close(
        simulated["false_detections_per_frame"] * frames, CALIBRATED.false_detections_per_frame * frames, 1.5
    )


def test_box_margins_match_calibration(simulated):
    for side in ("top", "bottom", "left", "right"):
        median = simulated["box_margins"][side][1]
        assert median == pytest.approx(CALIBRATED.box_margins[side], abs=MARGIN_ABS_TOL), side


def test_filter_gain_describes_the_measurement():
    """The residual std and lag-1 correlation of AR(1) noise are what ar1_filter_gain predicts."""
    rng = np.random.default_rng(0)
    from scipy.signal import savgol_filter

    for rho, fps in ((0.0, 30.0), (0.6, 30.0), (0.85, 60.0)):
        n = 40_000
        x = np.empty(n)
        x[0] = rng.standard_normal()
        steps = rng.standard_normal(n) * np.sqrt(1 - rho**2)
        for t in range(1, n):
            x[t] = rho * x[t - 1] + steps[t]
        window = jitter_window(fps)
        r = (x - savgol_filter(x, window, 2))[window:-window]
        gain, lag1 = ar1_filter_gain(rho, window)
        assert np.std(r) == pytest.approx(gain, rel=0.03)
        assert np.corrcoef(r[:-1], r[1:])[0, 1] == pytest.approx(lag1, abs=0.03)
    assert robust_std(rng.standard_normal(10_000) * 2) == pytest.approx(2.0, rel=0.05)


# --- shapes and edge cases ---


def _small_scene(n_frames: int = 30):
    keypoints, visible, size, fps = noise_test_scene(n_frames=n_frames, fps=30.0)
    return keypoints, visible, size, fps


def test_output_rows_follow_the_input_people():
    keypoints, visible, size, fps = _small_scene()
    out = PoseNoiseModel().apply(keypoints, visible, size, fps, np.random.default_rng(1))
    assert len(out.frames) == len(out.person_index) == keypoints.shape[0]
    for t, (frame, index) in enumerate(zip(out.frames, out.person_index, strict=True)):
        assert isinstance(frame, FramePoses) and frame.frame == t
        assert len(frame) == len(index)
        assert np.all(np.diff(frame.scores) <= 0)  # highest score first, like YOLO
        for row, person in enumerate(index):
            if person < 0:
                continue
            box_h = frame.boxes[row, 3] - frame.boxes[row, 1]
            error = np.linalg.norm(frame.keypoints[row, :, :2] - keypoints[t, person], axis=1)
            assert np.median(error) < 0.05 * box_h
            clean = out.clean_boxes[t, person]
            assert frame.boxes[row, 1] < keypoints[t, person, :5, 1].min() <= clean[3]


def test_same_seed_same_output_and_seeds_differ():
    keypoints, visible, size, fps = _small_scene(10)
    a = PoseNoiseModel().apply(keypoints, visible, size, fps, np.random.default_rng(4))
    b = PoseNoiseModel().apply(keypoints, visible, size, fps, np.random.default_rng(4))
    c = PoseNoiseModel().apply(keypoints, visible, size, fps, np.random.default_rng(5))
    assert all(np.array_equal(x.keypoints, y.keypoints) for x, y in zip(a.frames, b.frames, strict=True))
    assert not all(
        x.keypoints.shape == y.keypoints.shape and np.array_equal(x.keypoints, y.keypoints)
        for x, y in zip(a.frames, c.frames, strict=True)
    )


def test_absent_and_fully_hidden_people_are_not_detected():
    keypoints, visible, size, fps = _small_scene(20)
    keypoints = keypoints.copy()
    visible = visible.copy()
    keypoints[:10, 0] = np.nan  # person 0 enters at frame 10
    visible[:, 1] = False  # person 1 is hidden all along
    out = PoseNoiseModel().apply(keypoints, visible, size, fps, np.random.default_rng(2))
    for t, index in enumerate(out.person_index):
        assert 1 not in index
        if t < 10:
            assert 0 not in index
    assert any(0 in index for index in out.person_index[10:])


def test_empty_inputs_and_bad_shapes():
    model = PoseNoiseModel()
    rng = np.random.default_rng(0)
    none = model.apply(np.zeros((5, 0, 17, 2)), np.zeros((5, 0, 17), bool), (640, 480), 30.0, rng)
    assert len(none.frames) == 5 and all(
        len(f) == 0 or (i == -1).all() for f, i in zip(none.frames, none.person_index, strict=True)
    )
    assert (
        model.apply(np.zeros((0, 2, 17, 2)), np.zeros((0, 2, 17), bool), (640, 480), 30.0, rng).frames == []
    )
    with pytest.raises(ValueError):
        model.apply(np.zeros((5, 1, 24, 2)), np.zeros((5, 1, 24), bool), (640, 480), 30.0, rng)
    with pytest.raises(ValueError):
        model.apply(np.zeros((5, 1, 17, 2)), np.zeros((5, 1, 17), bool), (640, 480), 0.0, rng)


def test_small_people_are_missed_more_often():
    assert (
        CALIBRATED.detection_miss_by_size[size_bin(np.array([60.0]))[0]]
        > CALIBRATED.detection_miss_by_size[-2]
    )


@pytest.mark.shared
def test_calibration_reproduces_on_a_real_clip(shared_data):
    """The calibration command's measurement on one real clip (lab camera, 100 frames at imgsz 320)."""
    video = shared_data / "walking" / "pose2sim_Demo_MultiPerson" / "videos" / "cam01.mp4"
    result = measure_pose_noise([video], imgsz=(320,), reference_imgsz=None)
    stats = result["by_imgsz"]["320"]
    for side in ("top", "bottom"):
        assert stats["box_margins"][side][1] == pytest.approx(CALIBRATED.box_margins[side], abs=0.03)
    body = [stats["missing_rate"][n] for n in BODY if stats["missing_rate"][n] is not None]
    assert len(body) >= 8 and np.mean(body) < 0.05
    # one clip is not the pooled calibration: same order of magnitude, same frame-to-frame correlation
    jitter = [
        stats["jitter_pct"][n] / CALIBRATED.jitter_pct[j] for j, n in enumerate(KEYPOINT_NAMES) if n in BODY
    ]
    assert 1 / 3 < np.median(jitter) < 3
    assert stats["jitter_lag1_by_fps"]["60"] == pytest.approx(CALIBRATION_LAG1_60FPS, abs=0.1)


def test_dataset_hook_reports_scene_people():
    """``detect_keypoints(SceneClip)``: the dataset builder's hook, on the lab's own walker and camera."""
    from core.synth.body import Body
    from core.synth.camera import camera_for_view
    from core.synth.noise import detect_keypoints
    from core.synth.scene import Person, film
    from core.synth.walker import GaitParameters, walk

    motion = walk(GaitParameters(), Body(170.0), 3.0, 30.0, np.random.default_rng(0))[0]
    clip = film(
        camera_for_view("across", motion, np.random.default_rng(1)), [Person(motion, "patient", "walk")]
    )
    detected = detect_keypoints(clip)
    assert detected.shape == (clip.frames, 1, 17, 3)
    found = np.isfinite(detected[:, 0, 0, 0])
    assert found.mean() > 0.8
    box_h = np.nanmedian(clip.boxes_px[:, 0, 3] - clip.boxes_px[:, 0, 1])
    error = np.linalg.norm(detected[found, 0, :, :2] - clip.keypoints_px[found, 0], axis=-1)
    assert np.median(error) < 0.03 * box_h
    assert (detected[~found, 0, :, 2] == 0).all()
    assert np.array_equal(detect_keypoints(clip), detected, equal_nan=True)  # seeded by the scene
