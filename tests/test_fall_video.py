"""The video body-state machine: a fall is found, lying down slowly, sitting, bending, squatting and getting
up from the floor are not, and the alarm comes after lying for the set time - through exact joints and
through the pose-noise model. These tests judge with the rules alone (``method="rules"``); FallNet, the
default, is tested in ``test_fall_learned.py``."""

from __future__ import annotations

import numpy as np
import pytest

from core.alarms import LYING_ALARM_S
from core.fall.bench import synthetic_scene
from core.fall.video import (
    STATE_CODE,
    VideoFallConfig,
    detect_falls_in_tracks,
    stitch_tracks,
)
from core.tracking import track_people
from core.types import Track

RULES = "rules"
VIEW = "across"  # side-on at 1920x1080: everyone is large enough for the pose model
DETECTIONS = ("exact", "noisy")


def judged(activity: str, seed: int, detection: str, hold_s: float = 12.0, **config):
    config.setdefault("method", RULES)
    scene = synthetic_scene(activity, VIEW, seed, exact=detection == "exact", bystanders=0, hold_s=hold_s)
    tracks = track_people(scene.frames, fps=scene.fps)
    result = detect_falls_in_tracks(tracks, scene.fps, len(scene.frames), VideoFallConfig(**config))
    return scene, result


def detect(scene, **config):
    """The video detector on a synthetic scene, knowing the image size (as the analysis does)."""
    config.setdefault("method", RULES)
    size = (scene.clip.camera.width_px, scene.clip.camera.height_px)
    tracks = track_people(scene.frames, fps=scene.fps)
    return detect_falls_in_tracks(tracks, scene.fps, len(scene.frames), VideoFallConfig(**config), size)


def states_of(result) -> set[str]:
    return {state for timeline in result.timelines for state in timeline.states()}


@pytest.mark.parametrize("detection", DETECTIONS)
@pytest.mark.parametrize("activity", ["fall_forward_from_standing", "fall_backward_from_walking"])
def test_a_fall_is_found_where_it_happened_and_raises_the_alarm_after_10_s(activity, detection):
    scene, result = judged(activity, 1, detection)
    assert result.fall and len(result.events) == 1
    event = result.events[0]
    assert scene.start_s - 0.5 <= event.start_s < event.end_s, "the fall starts when the body leaves upright"
    assert abs(event.end_s - scene.impact_s) <= 0.7, "down at the impact"
    assert event.alarm_s == pytest.approx(event.end_s + LYING_ALARM_S, abs=0.1)
    timeline = result.timeline_of(event.track_id)
    during = (timeline.time_s >= event.start_s) & (timeline.time_s < event.end_s)
    assert (timeline.state[during] == STATE_CODE["falling"]).all()
    after = timeline.time_s > event.end_s + 1.0
    assert (timeline.state[after] == STATE_CODE["lying"]).mean() > 0.95
    before = timeline.time_s < event.start_s
    assert timeline.probability[after].min() > 0.5 > timeline.probability[before].max()


@pytest.mark.parametrize("detection", DETECTIONS)
@pytest.mark.parametrize(
    "activity", ["lie_down_bed", "lie_down_floor", "sit_down", "pick_up", "squat", "walk"]
)
def test_look_alikes_are_not_falls(activity, detection):
    _, result = judged(activity, 2, detection)
    assert not result.fall, [e.to_dict() for e in result.events]
    assert not result.alarm
    assert result.probability < 0.5
    lying = "lying" in states_of(result)
    assert lying == (activity in ("lie_down_bed", "lie_down_floor")), "lying down on purpose is lying"


@pytest.mark.parametrize("detection", DETECTIONS)
@pytest.mark.parametrize(("view", "seed"), [("cctv", 10), ("toward", 0)])
def test_getting_up_from_the_floor_is_not_a_fall(view, seed, detection):
    # Rising onto hands and knees turns the body as fast as a fall, and from these views sitting on the floor
    # can look upright; but the person had not stood before, and is kneeling, not lying, 1.5 s later.
    scene = synthetic_scene("get_up", view, seed, exact=detection == "exact", bystanders=0)
    result = detect(scene)
    assert not result.fall and not result.alarm, [e.to_dict() for e in result.events]


@pytest.mark.parametrize(
    ("activity", "view"),
    [
        ("fall_backward_from_standing", "cctv"),
        ("fall_lateral_from_standing", "cctv"),
        ("fall_backward_from_standing", "toward"),
    ],
)
def test_falls_that_barely_turn_the_body_in_the_image_are_found(activity, view):
    # From the ceiling the hips' drop is foreshortened; a fall away from a camera in front shortens the body
    # without turning it: the speeds the image shows are a fraction of the fall's.
    seed = {"cctv": 6, "toward": 0}[view]
    scene = synthetic_scene(activity, view, seed, bystanders=0)
    result = detect(scene)
    assert len(result.events) == 1 and result.alarm
    assert abs(result.events[0].end_s - scene.impact_s) <= 1.0


def test_no_alarm_before_the_lying_time_and_none_when_nobody_lies():
    _, short = judged("fall_lateral_from_standing", 3, "exact", hold_s=0.0)  # the clip ends first
    assert short.fall and short.events[0].lying_s < LYING_ALARM_S and not short.alarm
    _, quick = judged("fall_lateral_from_standing", 3, "exact", hold_s=0.0, lying_alarm_s=3.0)
    assert quick.alarm and quick.events[0].alarm_s == pytest.approx(quick.events[0].end_s + 3.0, abs=0.1)
    _, walking = judged("walk", 3, "exact")
    assert not walking.fall and not walking.alarm and "lying" not in states_of(walking)


def _track(track_id: int, frames, top: float) -> Track:
    frames = np.asarray(frames)
    boxes = np.tile([100.0, top, 160.0, 400.0], (len(frames), 1))
    return Track(track_id, frames, boxes, np.full(len(frames), 0.9), np.zeros((len(frames), 17, 3)))


def test_a_track_broken_by_a_fall_is_joined_and_separate_people_are_not():
    before, after = _track(1, range(0, 30), 100.0), _track(2, range(40, 70), 300.0)
    elsewhere = _track(3, range(40, 70), 100.0)
    elsewhere.boxes[:, [0, 2]] += 900  # someone else, far away
    joined = stitch_tracks([before, after, elsewhere], fps=30.0)
    assert [t.id for t in joined] == [1, 3]
    assert len(joined[0]) == 60 and joined[0].frames[-1] == 69
    assert stitch_tracks([before, _track(4, range(90, 120), 300.0)], fps=30.0)[1].id == 4, "too late to join"


@pytest.mark.parametrize("method", [RULES, "learned"])  # the rules and FallNet alike
def test_a_fallen_person_the_pose_model_loses_is_presumed_still_lying(method):
    scene = synthetic_scene("fall_forward_from_standing", VIEW, 1, exact=True, bystanders=0, hold_s=12.0)
    (track,) = track_people(scene.frames, fps=scene.fps)
    keep = track.frames <= round((scene.impact_s + 3.0) * scene.fps)  # not detected after 3 s on the floor
    lost = Track(track.id, track.frames[keep], track.boxes[keep], track.scores[keep], track.keypoints[keep])
    size = (scene.clip.camera.width_px, scene.clip.camera.height_px)
    result = detect_falls_in_tracks(
        [lost], scene.fps, len(scene.frames), VideoFallConfig(method=method), size
    )
    assert result.events[0].alarm_s == pytest.approx(result.events[0].end_s + LYING_ALARM_S, abs=0.1)
    someone_up = Track(
        9, lost.frames[-1] + np.arange(60, 90), lost.boxes[-30:], lost.scores[-30:], lost.keypoints[-30:]
    )
    seen_again = detect_falls_in_tracks(
        [lost, someone_up], scene.fps, len(scene.frames), VideoFallConfig(method=method), size
    )
    assert not seen_again.alarm, "someone was seen at the spot before the lying time was over"


@pytest.mark.parametrize("method", [RULES, "learned"])  # the rules and FallNet alike
def test_a_fall_is_judged_when_the_pose_model_loses_the_person_just_after_they_went_down(method):
    scene = synthetic_scene("fall_forward_from_standing", VIEW, 1, exact=True, bystanders=0, hold_s=12.0)
    (track,) = track_people(scene.frames, fps=scene.fps)
    keep = track.frames <= round((scene.impact_s + 0.5) * scene.fps)  # lost before the fall could be judged
    lost = Track(track.id, track.frames[keep], track.boxes[keep], track.scores[keep], track.keypoints[keep])
    size = (scene.clip.camera.width_px, scene.clip.camera.height_px)
    result = detect_falls_in_tracks(
        [lost], scene.fps, len(scene.frames), VideoFallConfig(method=method), size
    )
    (event,) = result.events
    assert abs(event.end_s - scene.impact_s) <= 0.7
    assert event.alarm_s == pytest.approx(event.end_s + LYING_ALARM_S, abs=0.1)
    someone_up = Track(
        9, lost.frames[-1] + np.arange(15, 45), lost.boxes[:30], lost.scores[:30], lost.keypoints[:30]
    )
    seen_again = detect_falls_in_tracks(
        [lost, someone_up], scene.fps, len(scene.frames), VideoFallConfig(method=method), size
    )
    assert not seen_again.fall, "someone was seen at the spot before the fall could be judged"


def test_the_bench_auto_image_size_follows_the_tallest_person_as_the_pose_stage_does():
    from core.fall.bench import auto_imgsz
    from core.pose import AUTO_MAX_IMGSZ, choose_imgsz

    keypoints = np.zeros((5, 2, 17, 2), np.float32)
    keypoints[..., 1] = np.linspace(100, 300, 17)  # 200 px tall
    keypoints[:, 1, :, 1] = np.linspace(100, 700, 17)  # 600 px tall, but hidden
    visible = np.ones((5, 2, 17), bool)
    visible[:, 1] = False
    assert auto_imgsz(keypoints, visible, (1920, 1080)) == choose_imgsz(200.0, 1920)
    assert auto_imgsz(keypoints, np.zeros_like(visible), (1920, 1080)) == AUTO_MAX_IMGSZ
