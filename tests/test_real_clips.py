"""Real third-party clips (../shared/data, skipped when absent): the right patient, stable tracks."""

from __future__ import annotations

import numpy as np
import pytest

from core.cache import StageCache
from core.pipeline import AnalysisSettings, analyse_video
from core.pose import PoseSettings
from core.settings import settings

pytestmark = pytest.mark.shared


def analyse(path, imgsz: int):
    return analyse_video(
        path, AnalysisSettings(pose=PoseSettings(imgsz=imgsz)), StageCache(settings().cache_dir)
    )


def test_sports2d_patient_is_the_woman_walking_across(shared_data):
    analysis = analyse(shared_data / "walking" / "sports2d_demo.mp4", 640)
    patient = analysis.patient
    travel = abs(patient.centers[-1, 0] - patient.centers[0, 0])
    assert travel > 0.4 * analysis.video.width, "her track crosses more than 40% of the frame"
    assert patient.centers[-1, 0] < patient.centers[0, 0], "she walks from right to left"
    assert analysis.selection.candidate(patient.id).direction == "across"
    # the man doing jumping jacks on the box is tracked, and judged to move in place
    in_place = [c for c in analysis.selection.candidates if c.direction == "in place" and c.seconds > 3]
    assert in_place, "the jumping man is a candidate that stays in place"
    assert all(c.score < analysis.selection.candidate(patient.id).score / 2 for c in in_place)


def test_opencv_vtest_yields_several_stable_tracks(shared_data):
    analysis = analyse(shared_data / "walking" / "opencv_vtest.avi", 640)
    stable = []
    for track in analysis.tracks:
        seconds = (track.frames[-1] - track.frames[0]) / analysis.video.fps
        step = np.linalg.norm(np.diff(track.centers, axis=0), axis=1) / np.median(track.heights_px)
        if seconds >= 3.0 and step.max() < 0.5:  # no jump to another person
            stable.append(track.id)
    assert len(stable) >= 4, f"stable tracks: {stable}"
