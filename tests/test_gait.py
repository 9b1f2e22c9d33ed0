"""Gait events and parameters against the synthetic lab's exact truth; quality gate; calibration; export."""

from __future__ import annotations

import numpy as np
import pytest

from core.gait.analysis import GaitSettings, analyse_gait
from core.gait.bench import CONDITIONS, TrialSpec, evaluate, simulate
from core.gait.calibration import Calibration
from core.gait.export import gaitrite_csv
from core.reference import read_gaitrite_export
from core.synth.body import Body, Motion
from core.synth.camera import camera_for_view
from core.synth.scene import Person, film
from core.synth.walker import GaitParameters, sample_gait, walk
from core.types import Track, VideoInfo

FPS = 30.0


def exact_track(motion: Motion, view: str, rng: np.random.Generator) -> tuple[Track, VideoInfo, float]:
    """The patient's exact projected keypoints as a track (confidence 0.9 where in frame)."""
    camera = camera_for_view(view, motion, rng)
    clip = film(camera, [Person(motion, "patient", "walk")])
    kp = clip.keypoints_px[:, 0].astype(float)
    seen = clip.in_frame[:, 0]
    keypoints = np.concatenate([kp, np.where(seen, 0.9, 0.0)[..., None]], axis=-1)
    boxes = np.column_stack([kp[..., 0].min(1), kp[..., 1].min(1), kp[..., 0].max(1), kp[..., 1].max(1)])
    keep = seen.sum(axis=1) > 12
    n = len(kp)
    track = Track(1, np.arange(n)[keep], boxes[keep], np.ones(keep.sum()), keypoints[keep])
    video = VideoInfo("synthetic", FPS, n, camera.width_px, camera.height_px, "-", 0)
    return track, video, camera.hfov_deg


def walker(seed: int, condition: str = "normal", duration_s: float = 10.0, **overrides):
    rng = np.random.default_rng(seed)
    body = Body.sample(rng)
    params = sample_gait(condition, body, rng)
    if overrides:
        params = GaitParameters(**{**params.__dict__, **overrides})
    motion, truth = walk(params, body, duration_s=duration_s, fps=FPS, rng=rng)
    return motion, truth, rng


def height_calibration(truth, hfov: float, method: str = "auto") -> GaitSettings:
    calibration = Calibration("height", height_cm=truth.height_cm, hfov_deg=hfov)
    return GaitSettings(method=method, calibration=calibration)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_side_view_exact_keypoints_give_the_walkway_numbers(seed):
    """The rule-based side-view detector (the learned one: tests/test_gait_learned.py)."""
    motion, truth, rng = walker(seed)
    track, video, hfov = exact_track(motion, "across", rng)
    gait = analyse_gait(track, video, height_calibration(truth, hfov, "sagittal"))
    assert gait.quality.usable, gait.quality.reasons
    assert gait.view == "across" and gait.events.method == "sagittal+stillness"
    p, t = gait.parameters, truth.parameters
    assert p["Cadence"].value == pytest.approx(t["Cadence"], rel=0.01)
    assert p["Velocity"].value == pytest.approx(t["Velocity"], rel=0.05)  # scale from segment lengths: ~3 %
    for side in ("L", "R"):
        assert p[f"Cycle Time(sec)/{side}"].value == pytest.approx(t[f"Cycle Time(sec)/{side}"], abs=0.02)
        assert p[f"Stride Length(cm)/{side}"].value == pytest.approx(t[f"Stride Length(cm)/{side}"], rel=0.05)
        assert p[f"Stance % of Cycle/{side}"].value == pytest.approx(t[f"Stance % of Cycle/{side}"], abs=2.0)
        assert p[f"Stance % of Cycle/{side}"].n >= 3
    # events: every true heel strike inside the pass is found within two frames
    for side in ("left", "right"):
        found = gait.events.feet[side].heel_strike_s
        true = getattr(truth.events, f"{side}_heel_strike_s")
        inside = true[(true > gait.pass_s[0] + 0.3) & (true < gait.pass_s[1] - 0.3)]
        assert all(np.min(np.abs(found - t)) < 2 / FPS for t in inside)


def test_toward_the_camera_exact_keypoints():
    motion, truth, rng = walker(4)
    track, video, hfov = exact_track(motion, "toward", rng)
    gait = analyse_gait(track, video, height_calibration(truth, hfov, "frontal"))
    assert gait.quality.usable, gait.quality.reasons
    assert gait.method == "frontal"
    assert gait.parameters["Cadence"].value == pytest.approx(truth.parameters["Cadence"], rel=0.03)
    assert gait.parameters["Velocity"].value == pytest.approx(truth.parameters["Velocity"], rel=0.06)
    assert "HH Base Support(cm)/L" in gait.parameters, (
        "seen from the front, the base of support is measurable"
    )


def test_noisy_detections_meet_the_side_view_targets():
    """Through the calibrated YOLO noise model, tracking and selection (a small version of the benchmark)."""
    rows = [
        evaluate(simulate(TrialSpec(1000 + i, "across", CONDITIONS[i % 3], bystanders=0)), given_patient=True)
        for i in range(9)
    ]
    usable = [r for r in rows if r["usable"]]
    assert len(usable) >= 6

    def mae(name):
        return np.mean([abs(r["values"][name][1] - r["values"][name][0]) for r in usable])

    assert mae("Velocity") <= 5.0
    assert mae("Cadence") <= 2.0
    assert mae("Stride Length(cm)/L") <= 5.0
    assert mae("Stance % of Cycle/L") <= 2.5


def test_without_calibration_only_temporal_parameters():
    motion, _truth, rng = walker(5)
    track, video, _ = exact_track(motion, "across", rng)
    gait = analyse_gait(track, video, GaitSettings())
    assert "Cadence" in gait.parameters and "Stance % of Cycle/L" in gait.parameters
    assert "Velocity" not in gait.parameters and "Stride Length(cm)/L" not in gait.parameters
    assert gait.calibration.startswith("not calibrated")


def test_quality_gate_refuses_two_strides():
    motion, truth, rng = walker(6, duration_s=3.8, cadence_steps_min=96.0)
    track, video, hfov = exact_track(motion, "across", rng)
    gait = analyse_gait(track, video, height_calibration(truth, hfov))
    assert not gait.quality.usable
    assert "too few complete strides" in gait.quality.reasons[0]
    assert gait.to_dict()["parameters"] == {}, "a refused analysis reports no numbers"


def test_quality_gate_refuses_a_patient_who_turns_back():
    there, truth, rng = walker(7, duration_s=3.2)
    back = there.placed(tuple(there.joint("pelvis")[-1, :2]), 180.0)  # the same walk, back from its end
    joints = np.concatenate([there.joints_m, back.joints_m])
    motion = Motion(joints, FPS, there.body, activity="walk")
    track, video, hfov = exact_track(motion, "across", rng)
    gait = analyse_gait(track, video, height_calibration(truth, hfov))
    assert not gait.quality.usable
    assert "turned back" in gait.quality.reasons[0]


def test_calibration_by_height_and_by_marked_distance_agree():
    motion, truth, rng = walker(8)
    camera = camera_for_view("across", motion, rng)
    track, video, hfov = exact_track(motion, "across", np.random.default_rng(8_000))
    # two floor marks 2 m apart along the walking line, where the patient walks
    pelvis = motion.joint("pelvis")
    start = np.append(pelvis[len(pelvis) // 3, :2], 0.0)
    direction = np.append(
        (pelvis[-1, :2] - pelvis[0, :2]) / np.linalg.norm(pelvis[-1, :2] - pelvis[0, :2]), 0.0
    )
    camera = camera_for_view("across", motion, np.random.default_rng(8_000))
    uv, _ = camera.project(np.array([start, start + 2.0 * direction]))
    by_height = analyse_gait(track, video, height_calibration(truth, hfov))
    by_marks = analyse_gait(
        track,
        video,
        GaitSettings(calibration=Calibration("distance", distance_cm=200.0, points_px=tuple(uv.ravel()))),
    )
    for name in ("Stride Length(cm)/L", "Velocity"):
        assert by_marks.parameters[name].value == pytest.approx(by_height.parameters[name].value, rel=0.06)
        assert by_marks.parameters[name].value == pytest.approx(truth.parameters[name], rel=0.06)


def test_oblique_walks_report_no_lengths():
    motion, truth, rng = walker(9)
    track, video, hfov = exact_track(motion, "oblique", rng)
    gait = analyse_gait(track, video, height_calibration(truth, hfov))
    assert "Stride Length(cm)/L" not in gait.parameters and "Cadence" in gait.parameters
    assert "obliquely" in gait.calibration


def test_csv_export_round_trips_through_the_gaitrite_reader(tmp_path):
    motion, truth, rng = walker(10)
    track, video, hfov = exact_track(motion, "across", rng)
    gait = analyse_gait(track, video, height_calibration(truth, hfov))
    document = gait.to_dict()
    path = tmp_path / "export.csv"
    path.write_text(
        gaitrite_csv(
            [{"patient": "P-7", "visit": "2026-11-21", "trial": 2, "parameters": document["parameters"]}]
        )
    )
    table = read_gaitrite_export(path)
    row = table.rows[0]
    assert (row.patient_code, row.visit, row.trial) == ("P-7", "2026-11-21", "2")
    for name, p in document["parameters"].items():
        if name in row.values:
            assert row.values[name] == pytest.approx(p["value"], abs=1e-3)
    assert row.values["Velocity"] == pytest.approx(gait.parameters["Velocity"].value, abs=1e-3)
