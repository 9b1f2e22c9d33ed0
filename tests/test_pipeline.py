"""The whole path on a generated clip with real people: who walks is the patient; stages are cached."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.annotate import annotated_video_for
from core.cache import StageCache
from core.errors import InputError
from core.pipeline import AnalysisSettings, analyse_video
from core.pose import PoseEstimator, PoseSettings
from core.settings import settings
from core.video import probe_video


def test_the_walker_is_the_patient(demo_analysis):
    analysis = demo_analysis
    assert len(analysis.tracks) == 3, "walker, bystander and the person bobbing in place"
    patient = analysis.patient
    travel = patient.centers[-1, 0] - patient.centers[0, 0]
    assert travel > 0.3 * analysis.video.width, "the patient is the one who crosses the frame"
    others = [c for c in analysis.selection.candidates if c.track_id != patient.id]
    assert all(c.direction == "in place" for c in others)


def test_json_document_follows_the_contract(demo_analysis):
    doc = demo_analysis.to_document()
    assert {"fps", "frames", "width", "height"} <= doc["video"].keys()
    assert doc["tracks"] and {"id", "boxes"} <= doc["tracks"][0].keys()
    assert len(doc["tracks"][0]["boxes"][0]) == 5
    assert doc["patient"]["track_id"] == demo_analysis.selection.track_id
    assert {"track_id", "score"} <= doc["patient"]["candidates"][0].keys()
    assert "parameters" in doc and {"usable", "reasons"} <= doc["quality"].keys()
    assert {"pose", "tracking", "selection", "fps"} <= doc["timings"].keys()


def test_reselecting_or_retracking_never_reruns_pose(demo_clip, demo_analysis, monkeypatch):
    def no_pose(*args, **kwargs):
        raise AssertionError("pose extraction ran again")

    monkeypatch.setattr(PoseEstimator, "run", no_pose)
    cache = StageCache(settings().cache_dir)
    again = analyse_video(demo_clip, AnalysisSettings(patient_override=demo_analysis.tracks[-1].id), cache)
    assert "pose" in again.cached_stages and again.selection.manual
    bytetrack = analyse_video(
        demo_clip, AnalysisSettings(tracking=again.settings.tracking.__class__("bytetrack")), cache
    )
    assert "pose" in bytetrack.cached_stages and "tracking" not in bytetrack.cached_stages
    chosen = demo_analysis.reselect(demo_analysis.tracks[0].id)
    assert chosen.selection.track_id == demo_analysis.tracks[0].id
    with pytest.raises(InputError, match="no track 99"):
        demo_analysis.reselect(99)


def test_other_pose_settings_are_a_different_cache_entry(demo_clip):
    cache = StageCache(settings().cache_dir)
    a = cache.path("x" * 64, "pose", {"pose": PoseSettings(imgsz=320).to_dict()})
    b = cache.path("x" * 64, "pose", {"pose": PoseSettings(imgsz=640).to_dict()})
    assert a != b


def test_a_clip_with_nobody_in_it(tmp_path):
    path = tmp_path / "empty_corridor.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(12):
        writer.write(np.full((240, 320, 3), 120 + i, np.uint8))
    writer.release()
    with pytest.raises(InputError, match="Nobody was found"):
        analyse_video(path, AnalysisSettings(pose=PoseSettings(imgsz=320)))


def test_annotated_video_highlights_the_patient(demo_analysis):
    path = annotated_video_for(demo_analysis)
    info = probe_video(path)
    assert path.suffix == ".webm" and info.frames == demo_analysis.video.frames
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, info.frames // 2)
    ok, frame = cap.read()
    cap.release()
    assert ok
    orange = (frame[:, :, 2] > 200) & (frame[:, :, 1] > 120) & (frame[:, :, 1] < 200) & (frame[:, :, 0] < 80)
    assert orange.sum() > 200, "the patient's box and skeleton are drawn in orange"
    assert annotated_video_for(demo_analysis) == path  # rendered once, then reused
