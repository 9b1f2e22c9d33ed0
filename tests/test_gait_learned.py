"""The learned gait-event detector: its features, labels, training code and the shipped weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.gait import learned
from core.gait.analysis import GaitSettings, analyse_gait
from core.gait.bench import TrialSpec
from core.gait.calibration import Calibration
from core.gait.signals import joint_signals
from core.gait.training import TRAIN_STREAM, contact_labels, make_example, train
from core.synth.walker import GaitEvents
from core.types import KP
from tests.test_gait import FPS, exact_track, walker

needs_weights = pytest.mark.skipif(not learned.available(), reason="weights/gait-events.pt not trained")


def test_contact_labels_follow_the_true_events_between_frames():
    events = GaitEvents(np.array([0.5]), np.array([1.2]), np.array([1.0]), np.array([0.3]))
    t = np.arange(0, 1.5, 1 / FPS)
    y = contact_labels(t, events, FPS)
    left, right = y
    assert (
        left[t < 0.45].max() == 0 and left[(t > 0.55) & (t < 1.15)].min() == 1 and left[t > 1.25].max() == 0
    )
    assert right[t < 0.25].min() == 1 and right[(t > 0.35) & (t < 0.95)].max() == 0
    assert 0 < left[15] < 1  # the frame interval around 0.5 s is half stance: 14.5/30 .. 15.5/30
    assert left[15] == pytest.approx(0.5, abs=0.06)


def test_mirroring_swaps_left_and_right_and_is_its_own_inverse():
    motion, _, rng = walker(5)
    track, _, _ = exact_track(motion, "across", rng)
    signals = joint_signals(track, FPS)
    x = learned.features(signals)
    assert x.shape == (learned.N_FEATURES, len(signals.time_s)) and np.isfinite(x).all()
    m = learned.mirror_features(x)
    assert np.array_equal(learned.mirror_features(m), x)
    left_ankle, right_ankle = learned.JOINTS.index("left_ankle"), learned.JOINTS.index("right_ankle")
    assert np.array_equal(m[2 * left_ankle], x[2 * right_ankle])  # relative x of the ankles swapped

    swapped = track.keypoints.copy()
    for a, b in [(KP[f"left_{j}"], KP[f"right_{j}"]) for j in ("shoulder", "hip", "knee", "ankle")]:
        swapped[:, [a, b]] = swapped[:, [b, a]]
    track_swapped = type(track)(track.id, track.frames, track.boxes, track.scores, swapped)
    x_swapped = learned.features(joint_signals(track_swapped, FPS))
    assert np.allclose(learned.mirror_features(x_swapped), x, atol=1e-4)


def test_training_runs_and_its_weights_load(tmp_path):
    examples = [
        e for e in (make_example(TrialSpec(i, "across", "normal", 0, TRAIN_STREAM)) for i in range(4)) if e
    ]
    assert len(examples) >= 3
    assert examples[0].y.shape == (2, examples[0].x.shape[1])
    state, history = train(examples[:-1], examples[-1:], epochs=2, batch_size=2, log=lambda _: None)
    assert len(history) == 2 and history[-1]["train_bce"] < history[0]["train_bce"] * 1.5
    path = tmp_path / "events.pt"
    import torch

    torch.save({"state_dict": state, "architecture": {}, "feature_version": learned.FEATURE_VERSION}, path)
    motion, _, rng = walker(6)
    track, _, _ = exact_track(motion, "across", rng)
    p = learned.contact_probability(joint_signals(track, FPS), path)
    assert p.shape == (2, len(track)) and np.all((p >= 0) & (p <= 1))


def test_missing_weights_say_how_to_get_them(tmp_path):
    motion, _, rng = walker(6)
    track, _, _ = exact_track(motion, "across", rng)
    with pytest.raises(FileNotFoundError, match="python -m core train gait-events"):
        learned.learned_events(joint_signals(track, FPS), tmp_path / "none.pt")


@needs_weights
@pytest.mark.parametrize("view", ["across", "toward", "away"])
def test_shipped_detector_times_events_on_exact_keypoints(view):
    motion, truth, rng = walker(7)
    track, video, hfov = exact_track(motion, view, rng)
    settings = GaitSettings(calibration=Calibration("height", height_cm=truth.height_cm, hfov_deg=hfov))
    gait = analyse_gait(track, video, settings)
    assert gait.method == "learned" and gait.quality.usable, gait.quality.reasons
    for side, code in (("left", "L"), ("right", "R")):
        for kind in ("heel_strike", "toe_off"):
            found = getattr(gait.events.feet[side], f"{kind}_s")
            true = getattr(truth.events, f"{side}_{kind}_s")
            inside = true[(true > gait.pass_s[0] + 0.5) & (true < gait.pass_s[1] - 0.5)]
            assert len(inside) >= 3
            assert all(np.min(np.abs(found - t)) < 2 / FPS for t in inside), (side, kind)
        stance = gait.parameters[f"Stance % of Cycle/{code}"].value
        assert stance == pytest.approx(truth.parameters[f"Stance % of Cycle/{code}"], abs=2.5)


@needs_weights
def test_other_frame_rates_are_resampled_for_the_network():
    """A 60 fps walk gives the events the 30 fps one does."""
    motion, _, rng = walker(8, duration_s=8.0)
    track, _, _ = exact_track(motion, "across", rng)
    at_30 = learned.learned_events(joint_signals(track, FPS))
    doubled = track.keypoints.repeat(2, axis=0)
    frames = np.arange(len(doubled))
    fast = type(track)(1, frames, track.boxes.repeat(2, axis=0), track.scores.repeat(2), doubled)
    at_60 = learned.learned_events(joint_signals(fast, 2 * FPS))
    for side in ("left", "right"):
        a, b = at_30.feet[side].heel_strike_s, at_60.feet[side].heel_strike_s
        assert len(a) and all(np.min(np.abs(b - t)) < 2 / FPS for t in a)


@needs_weights
def test_the_weights_carry_their_training_record():
    _, record = learned.load()
    assert "synthetic" in record["trained_on"] and record["train_walks"] > 100
    assert learned.version().startswith("gait-events@")


def test_without_weights_auto_uses_the_rules(monkeypatch, tmp_path):
    monkeypatch.setattr(learned, "WEIGHTS", replace(learned.WEIGHTS, shipped=tmp_path / "none.pt"))
    motion, truth, rng = walker(9)
    track, video, hfov = exact_track(motion, "across", rng)
    settings = GaitSettings(calibration=Calibration("height", height_cm=truth.height_cm, hfov_deg=hfov))
    gait = analyse_gait(track, video, settings)
    assert gait.method == "sagittal" and gait.quality.usable


def test_train_command_writes_loadable_weights_with_their_record(tmp_path):
    from core.cli import main

    out = tmp_path / "events.pt"
    record = tmp_path / "record.json"
    argv = ["train", "gait-events", "--trials-per-view", "6", "--epochs", "1", "--workers", "1"]
    assert main([*argv, "--out", str(out), "--json", str(record)]) == 0
    _, saved = learned.load(out)
    assert saved["train_walks"] >= 10 and saved["epochs"] == 1
    assert record.is_file() and learned.version(out).startswith("gait-events@")
