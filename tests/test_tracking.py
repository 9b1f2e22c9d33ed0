"""Tracking on synthetic box sequences: identities survive crossings and missed detections."""

from __future__ import annotations

import numpy as np
import pytest

from core.tracking import IouTracker, TrackingSettings, greedy_match, iou_matrix, track_people
from core.types import FramePoses


def person_box(cx: float, bottom: float, height: float = 200.0) -> np.ndarray:
    width = 0.4 * height
    return np.array([cx - width / 2, bottom - height, cx + width / 2, bottom])


def frames_of(people_per_frame: list[list[np.ndarray]]) -> list[FramePoses]:
    out = []
    for i, boxes in enumerate(people_per_frame):
        boxes = np.array(boxes).reshape(-1, 4)
        keypoints = np.zeros((len(boxes), 17, 3))
        keypoints[:, :, 0] = ((boxes[:, 0] + boxes[:, 2]) / 2)[:, None]
        keypoints[:, :, 1] = np.linspace(boxes[:, 1], boxes[:, 3], 17).T
        keypoints[:, :, 2] = 0.9
        out.append(FramePoses(i, boxes, np.full(len(boxes), 0.9), keypoints))
    return out


def ids_by_position(tracks, frame: int) -> dict[int, float]:
    """track id -> box centre x at ``frame``."""
    out = {}
    for t in tracks:
        box = t.box_at(frame)
        if box is not None:
            out[t.id] = (box[0] + box[2]) / 2
    return out


def test_iou_and_greedy_matching():
    a = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    b = np.array([[21, 0, 31, 10], [0, 0, 10, 10]], float)
    iou = iou_matrix(a, b)
    assert iou[0, 1] == pytest.approx(1.0) and iou[1, 0] == pytest.approx(90 / 110)
    assert sorted(greedy_match(iou, 0.3)) == [(0, 1), (1, 0)]


def test_one_walker_is_one_track():
    frames = frames_of([[person_box(100 + 8 * i, 400)] for i in range(60)])
    tracks = track_people(frames)
    assert len(tracks) == 1 and len(tracks[0]) == 60


@pytest.mark.parametrize("method", ["iou", "bytetrack"])
def test_two_people_crossing_keep_their_identities(method):
    # A walks right, B walks left, same size, same depth: their boxes overlap completely mid-way.
    n = 60
    frames = frames_of([[person_box(100 + 8 * i, 400), person_box(572 - 8 * i, 400)] for i in range(n)])
    tracks = track_people(frames, TrackingSettings(method=method))
    assert len(tracks) == 2
    start, end = ids_by_position(tracks, 0), ids_by_position(tracks, n - 1)
    walker_right = min(start, key=start.get)  # leftmost at the start
    assert end[walker_right] == max(end.values()), "the walker who started left must end right"
    assert all(len(t) == n for t in tracks)


def test_missed_detections_do_not_break_a_track():
    people = [[person_box(100 + 8 * i, 400)] for i in range(40)]
    for i in (10, 11, 12, 25):  # the detector lost the person for a few frames
        people[i] = []
    tracks = track_people(frames_of(people))
    assert len(tracks) == 1
    assert len(tracks[0]) == 36 and 11 not in tracks[0].frames


def test_a_track_ends_after_max_missed_frames():
    people = (
        [[person_box(300, 400)] for _ in range(10)] + [[] for _ in range(6)] + [[person_box(300, 400)]] * 10
    )
    tracker = IouTracker(TrackingSettings(max_missed=5, min_frames=1))
    for poses in frames_of(people):
        tracker.update(poses)
    tracks = tracker.tracks()
    assert [len(t) for t in tracks] == [10, 10], "a person seen again after 6 missed frames is a new track"


def test_weak_detections_never_start_tracks_and_flicker_is_dropped():
    frames = frames_of([[person_box(300, 400)] for _ in range(20)])
    for f in frames:
        f.scores[:] = 0.2
    assert track_people(frames) == []
    flicker = frames_of([[person_box(300, 400)]] * 3 + [[]] * 30)
    assert track_people(flicker) == []


def test_seed_rule_without_motion_prediction_still_tracks_a_walker():
    frames = frames_of([[person_box(100 + 8 * i, 400)] for i in range(30)])
    tracks = track_people(frames, TrackingSettings(predict_motion=False))
    assert len(tracks) == 1


def test_tracks_carry_keypoints_and_serialise_boxes():
    tracks = track_people(frames_of([[person_box(100 + 5 * i, 400)] for i in range(10)]))
    track = tracks[0]
    assert track.keypoints.shape == (10, 17, 3)
    row = track.to_dict()["boxes"][0]
    assert row[0] == 0 and len(row) == 5
