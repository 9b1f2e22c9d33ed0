"""The learned video fall detector: features, labels, turning probabilities into falls, the training code
and the shipped weights on the lab's falls and look-alikes."""

from __future__ import annotations

import numpy as np
import pytest

from core.fall import learned
from core.fall.bench import synthetic_scene
from core.fall.training import body_down, make_examples_of_scene, scene_spec
from core.fall.video import (
    STATE_CODE,
    VideoFallConfig,
    detect_falls_in_tracks,
    resolve_method,
    run_state_machine,
)
from core.tracking import track_people

needs_weights = pytest.mark.skipif(not learned.available(), reason="weights/fall-video.pt not trained")
FPS = 30.0


def scene_tracks(activity: str, view: str, seed: int, **options):
    scene = synthetic_scene(activity, view, seed, bystanders=0, **options)
    return scene, track_people(scene.frames, fps=scene.fps)


def test_features_have_the_documented_channels_and_mirroring_twice_is_the_identity():
    scene, tracks = scene_tracks("fall_lateral_from_standing", "across", 2, exact=True)
    track = max(tracks, key=len)
    x, grid = learned.features(track, scene.fps, run_state_machine(track, scene.fps))
    assert x.shape == (learned.N_FEATURES, len(grid)) and np.isfinite(x).all()
    assert np.abs(x).max() <= learned.FEATURE_CLIP
    mirrored = learned.mirror_features(x)
    assert not np.allclose(mirrored, x)
    np.testing.assert_allclose(learned.mirror_features(mirrored), x)
    left_hip = 2 * learned.JOINT_NAMES.index("left_hip")
    right_hip = 2 * learned.JOINT_NAMES.index("right_hip")
    np.testing.assert_allclose(mirrored[right_hip], -x[left_hip])  # x of the left hip, seen in a mirror


def test_the_down_label_is_lying_or_sitting_on_the_floor():
    height = 1.7
    standing = np.zeros((1, 17, 3))
    standing[0, [5, 6], 2], standing[0, [11, 12], 2] = 1.4, 0.9
    lying = np.zeros((1, 17, 3))
    lying[0, [5, 6], 0], lying[0, :, 2] = 0.5, 0.15
    kneeling = standing.copy()
    kneeling[0, [11, 12], 2], kneeling[0, [5, 6], 2] = 0.55, 1.05  # trunk upright, hips at knee height
    sitting_on_floor = standing.copy()
    sitting_on_floor[0, [11, 12], 2], sitting_on_floor[0, [5, 6], 2] = 0.15, 0.65
    truth = [body_down(k, height)[0] for k in (standing, lying, kneeling, sitting_on_floor)]
    assert truth == [False, True, False, True]


def test_training_labels_mark_the_impact_of_the_patient_only():
    spec = ("fall_forward_from_standing", "across", 3, "exact")
    examples = make_examples_of_scene(spec)
    patient = max(examples, key=lambda e: e.y[0].sum())
    assert patient.impact_index is not None and patient.y[0].sum() >= 15  # ~0.7 s of frames at 30 fps
    assert patient.y[1][patient.impact_index + 30 :].mean() > 0.95, "down after the fall"
    assert patient.y[1][: patient.impact_index - 60].max() == 0, "standing before it"
    look_alike = make_examples_of_scene(("sit_down", "across", 3, "exact"))
    assert all(e.y[0].sum() == 0 and e.impact_index is None for e in look_alike)
    assert scene_spec(0, 1_000_000)[:3] == ("fall_forward_from_standing", "cctv", 1_000_000)


def _probabilities(impact_at: float | None, down_from: float | None, down_s: float, n: int = 300):
    t = np.arange(n) / FPS
    impact = np.zeros(n)
    if impact_at is not None:
        impact[np.abs(t - impact_at) <= 0.2] = 0.9
    down = np.zeros(n)
    if down_from is not None:
        down[(t >= down_from) & (t < down_from + down_s)] = 0.95
    state = np.where(t < 2.0, STATE_CODE["upright"], STATE_CODE["sitting"])
    return t, np.stack([impact, down]), state


def test_a_fall_is_an_impact_followed_by_the_body_down_long_enough():
    t, p, state = _probabilities(3.0, 3.1, 5.0)
    (fall,) = learned.falls_from_probabilities(t, p, state)
    assert fall.end_s == pytest.approx(3.1, abs=0.05) and fall.score == pytest.approx(0.9)
    assert fall.start_s == pytest.approx(2.0 - 1 / FPS, abs=0.05), "the last upright frame"
    assert fall.lying_until_s == pytest.approx(8.1 - 1 / FPS, abs=0.05)
    assert not learned.falls_from_probabilities(*_probabilities(3.0, 3.1, 0.8)), "a stumble: up again"
    assert not learned.falls_from_probabilities(*_probabilities(None, 3.1, 5.0)), "lying down, no impact"
    assert not learned.falls_from_probabilities(*_probabilities(3.0, None, 0.0)), "an impact, never down"
    t, p, state = _probabilities(3.0, 3.1, 5.0)
    p[0] *= 0.8 / 0.9
    assert not learned.falls_from_probabilities(t, p, state), "an impact peak below IMPACT_LEVEL"


def test_a_fall_whose_track_ends_down_lies_on_as_presumed():
    t, p, state = _probabilities(8.0, 8.1, 10.0, n=280)  # the track ends 1.2 s after the impact
    assert not learned.falls_from_probabilities(t, p, state), "not down long enough in what was seen"
    (fall,) = learned.falls_from_probabilities(t, p, state, presumed_until_s=30.0)
    assert fall.lying_until_s == pytest.approx(30.0, abs=0.05)


def test_the_method_is_checked_and_auto_follows_the_installed_weights():
    with pytest.raises(ValueError, match="fall method"):
        VideoFallConfig(method="magic")
    assert resolve_method("rules") == "rules"
    assert resolve_method("auto") == ("learned" if learned.available() else "rules")


def test_training_runs_and_its_weights_load(tmp_path):
    from core.cli import main
    from core.tcn import load_checkpoint

    out, record = tmp_path / "fall.pt", tmp_path / "fall.json"
    argv = ["train", "fall-video", "--scenes", "14", "--epochs", "1", "--workers", "1"]
    argv += ["--out", str(out), "--json", str(record), "--examples-cache", str(tmp_path / "examples.pkl")]
    assert main(argv) == 0
    _, info = learned.load(out)
    assert info["train_scenes"] == 14 and info["best_epoch"] == 1
    load_checkpoint.cache_clear()


@needs_weights
@pytest.mark.parametrize(
    "activity,view,seed",
    [
        ("fall_forward_from_walking", "across", 4),
        ("fall_backward_from_standing", "toward", 5),
        ("fall_lateral_from_walking", "cctv", 6),
    ],
)
def test_the_shipped_network_finds_falls_through_the_pose_noise_model(activity, view, seed):
    scene, tracks = scene_tracks(activity, view, seed, imgsz="auto")
    size = (scene.clip.camera.width_px, scene.clip.camera.height_px)
    config = VideoFallConfig(method="learned")
    result = detect_falls_in_tracks(tracks, scene.fps, len(scene.frames), config, size)
    assert len(result.events) == 1 and result.events[0].detector == "learned"
    event = result.events[0]
    assert abs(event.end_s - scene.impact_s) <= 1.0
    assert event.alarm_s is not None and event.alarm_s >= event.end_s + 9.9
    timeline = result.timeline_of(event.track_id)
    assert timeline.impact is not None and timeline.impact.max() > 0.5


@needs_weights
@pytest.mark.parametrize("activity", ["lie_down_floor", "sit_down", "get_up", "lie_down_bed"])
def test_the_shipped_network_does_not_call_look_alikes_falls(activity):
    scene, tracks = scene_tracks(activity, "oblique", 7, imgsz="auto")
    size = (scene.clip.camera.width_px, scene.clip.camera.height_px)
    for method in ("learned", "either"):
        config = VideoFallConfig(method=method)
        assert not detect_falls_in_tracks(tracks, scene.fps, len(scene.frames), config, size).events
