"""Patient selection on synthetic tracks: the walker is chosen whatever the direction, never the jumper."""

from __future__ import annotations

import numpy as np
import pytest

from core.selection import select_patient
from core.types import Track

FPS = 30.0
FOCAL_PX = 1000.0
CAMERA_HEIGHT_M = 1.2
HORIZON_Y = 540.0
rng = np.random.default_rng(7)


def make_track(track_id: int, cx, bottom, height, start: int = 0) -> Track:
    cx, bottom, height = (np.asarray(v, float) for v in (cx, bottom, height))
    n = len(cx)
    jitter = rng.normal(0, 0.01, (n, 4)) * height[:, None]  # detector jitter: 1% of body height
    width = 0.4 * height
    boxes = np.column_stack([cx - width / 2, bottom - height, cx + width / 2, bottom]) + jitter
    return Track(track_id, np.arange(start, start + n), boxes, np.full(n, 0.9), np.zeros((n, 17, 3)))


def walker_toward_camera(
    track_id: int, seconds: float = 8.0, from_m: float = 9.0, to_m: float = 3.0
) -> Track:
    t = np.arange(0, seconds, 1 / FPS)
    depth = from_m + (to_m - from_m) * t / seconds
    sway = 6 * np.sin(2 * np.pi * 0.9 * t)  # lateral sway of the pelvis at stride frequency
    height = FOCAL_PX * 1.7 / depth * (1 + 0.02 * np.sin(2 * np.pi * 1.8 * t))
    bottom = HORIZON_Y + FOCAL_PX * CAMERA_HEIGHT_M / depth
    return make_track(track_id, 960 + sway, bottom, height)


def walker_across(
    track_id: int, seconds: float = 7.0, x0: float = 150, x1: float = 1750, start: int = 0
) -> Track:
    t = np.arange(0, seconds, 1 / FPS)
    cx = x0 + (x1 - x0) * t / seconds
    bottom = 900 + 5 * np.sin(2 * np.pi * 1.8 * t)
    return make_track(track_id, cx, bottom, np.full_like(t, 420.0), start)


def jumper(track_id: int, seconds: float = 8.0) -> Track:
    t = np.arange(0, seconds, 1 / FPS)
    lift = 90 * np.abs(np.sin(2 * np.pi * 0.8 * t))  # feet leave the ground ~90 px
    height = 400 * (1 + 0.25 * np.abs(np.sin(2 * np.pi * 0.8 * t)))  # arms up make the box taller
    return make_track(track_id, 1300 + 15 * np.sin(2 * np.pi * 0.3 * t), 880 - lift, height)


def bystander(track_id: int, seconds: float = 8.0, x: float = 300) -> Track:
    n = int(seconds * FPS)
    return make_track(track_id, np.full(n, x), np.full(n, 850.0), np.full(n, 380.0))


def test_walker_toward_the_camera_among_a_jumper_and_a_bystander():
    tracks = [bystander(1), jumper(2), walker_toward_camera(3)]
    selection = select_patient(tracks, FPS, 240)
    assert selection.track_id == 3
    assert selection.candidate(3).direction == "toward"
    assert "toward the camera" in selection.reason
    # the seed's rule (largest Δy relative to Δx of the box centre) would have taken the jumper
    assert max(selection.candidates, key=lambda c: c.seed_score).track_id == 2


def test_seed_rule_and_new_rule_agree_in_the_seed_corridor():
    # the seed's setting: patient walks toward the camera, others stand or cross
    tracks = [bystander(1), walker_toward_camera(2), walker_across(3, seconds=2.5, x0=200, x1=1700, start=90)]
    selection = select_patient(tracks, FPS, 240)
    assert selection.track_id == 2
    assert max(selection.candidates, key=lambda c: c.seed_score).track_id == 2


def test_walker_away_from_the_camera():
    tracks = [bystander(1), walker_toward_camera(2, from_m=3.0, to_m=9.0)]
    selection = select_patient(tracks, FPS, 240)
    assert selection.track_id == 2 and selection.candidate(2).direction == "away"


def test_walker_across_the_frame_beats_a_jumper():
    tracks = [jumper(1), walker_across(2), bystander(3)]
    selection = select_patient(tracks, FPS, 240)
    assert selection.track_id == 2
    assert selection.candidate(2).direction == "across"
    jump = selection.candidate(1)
    assert jump.direction == "in place" and "in place" in jump.reason
    assert jump.oscillation > 3 * selection.candidate(2).oscillation


def test_a_passer_by_glimpsed_for_a_second_is_not_the_patient():
    tracks = [walker_toward_camera(1), walker_across(2, seconds=1.2, x0=100, x1=700, start=60)]
    assert select_patient(tracks, FPS, 240).track_id == 1


def test_walking_there_and_back_counts_as_travel():
    there = walker_across(1, seconds=4.0, x0=200, x1=1500)
    back = walker_across(1, seconds=4.0, x0=1500, x1=200, start=len(there))
    both = Track(
        1,
        np.concatenate([there.frames, back.frames]),
        np.vstack([there.boxes, back.boxes]),
        np.concatenate([there.scores, back.scores]),
        np.vstack([there.keypoints, back.keypoints]),
    )
    selection = select_patient([both, jumper(2)], FPS, 240)
    assert selection.track_id == 1
    assert selection.candidate(1).straightness < 0.5  # it came back: low net displacement, long path


def test_manual_override_and_unknown_track():
    tracks = [jumper(1), walker_across(2)]
    selection = select_patient(tracks, FPS, 240, override=1)
    assert selection.track_id == 1 and selection.manual and "chosen by the user" in selection.reason
    with pytest.raises(ValueError, match="no track 9"):
        select_patient(tracks, FPS, 240, override=9)


def test_nobody_walking_gives_a_low_confidence_reason():
    selection = select_patient([bystander(1), bystander(2, x=900)], FPS, 240)
    assert "nobody walked" in selection.reason


def test_no_tracks():
    selection = select_patient([], FPS, 0)
    assert selection.track_id is None and selection.candidates == ()
