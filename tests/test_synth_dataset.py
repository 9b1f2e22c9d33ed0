"""The dataset builder: one command, subject-level splits, reproducible from the seed, AIHub-style files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import InputError
from core.synth.dataset import BuildOptions, build_dataset, subject_splits
from core.synth.skeleton import J
from core.synth.walker import GAITRITE_UNITS


def _labels(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/*.json"))]


def test_gait_dataset_has_exact_labels_and_no_subject_in_two_splits(tmp_path):
    out = tmp_path / "gait"
    manifest = build_dataset(BuildOptions("gait", 14, str(out), seed=3, clips_per_subject=2))
    assert len(manifest["clips"]) == 14
    labels = _labels(out)
    assert len(labels) == 14
    split_of = {}
    for label in labels:
        assert split_of.setdefault(label["subject"]["id"], label["split"]) == label["split"]
        assert set(label["parameters"]) == set(GAITRITE_UNITS)
        assert label["parameters"]["Velocity"]["unit"] == "cm/s"
        assert label["events"]["left_heel_strike_frame"]
        arrays = np.load(out / label["files"]["arrays"])
        frames, people = arrays["keypoints_px"].shape[:2]
        assert frames == label["frames"] == 240  # 8 s at 30 fps
        assert people == len(label["people"]) and arrays["roles"][0] == "patient"
        assert arrays["visible"].shape == (frames, people, 17)
        # The event frames index the video: the heel is on the ground at each heel strike.
        heel = arrays["joints_m"][:, 0, J["left_heel"]]
        for frame in label["events"]["left_heel_strike_frame"]:
            if frame + 1 < frames:
                assert min(heel[frame, 2], heel[frame + 1, 2]) < 0.02
    assert set(split_of.values()) == {"train", "val", "test"}
    assert {s for ids in manifest["subjects"].values() for s in ids} == set(split_of)


def test_same_seed_same_dataset_whatever_the_workers(tmp_path):
    one = build_dataset(BuildOptions("fall", 4, str(tmp_path / "a"), seed=5, workers=1, sensors=False))
    two = build_dataset(BuildOptions("fall", 4, str(tmp_path / "b"), seed=5, workers=2, sensors=False))
    other = build_dataset(BuildOptions("fall", 4, str(tmp_path / "c"), seed=6, workers=1, sensors=False))
    assert [r["clip"] for r in one["clips"]] == [r["clip"] for r in two["clips"]]
    differs = False
    for row, row_other in zip(one["clips"], other["clips"], strict=True):
        a = np.load(tmp_path / "a" / row["files"]["arrays"])
        b = np.load(tmp_path / "b" / row["files"]["arrays"])
        assert np.array_equal(a["keypoints_px"], b["keypoints_px"], equal_nan=True)
        c = np.load(tmp_path / "c" / row_other["files"]["arrays"])
        differs |= a["joints_m"].shape != c["joints_m"].shape or not np.array_equal(
            a["joints_m"], c["joints_m"]
        )
    assert differs


def test_fall_dataset_writes_aihub_sensor_files_and_labels(tmp_path):
    out = tmp_path / "fall"
    build_dataset(BuildOptions("fall", 8, str(out), seed=1))
    labels = _labels(out)
    assert sum(label["scene_info"]["scene_IsFall"] for label in labels) >= 4  # three falls per look-alike
    for label in labels:
        sensors = pd.read_csv(out / label["files"]["sensors"])
        assert sensors.shape == (600, 109)
        waist = pd.read_csv(out / label["files"]["waist"])
        assert list(waist.columns) == ["time_s", "ax_g", "ay_g", "az_g"]
        start, end = label["sensordata"]["fall_start_frame"], label["sensordata"]["fall_end_frame"]
        if label["scene_info"]["scene_IsFall"]:
            assert 0 < start < end < 600
            g = np.linalg.norm(waist[["ax_g", "ay_g", "az_g"]].to_numpy(), axis=1)
            assert g[start:].max() > 2.5  # the impact shows in the waist accelerometer
        else:
            assert start is None and end is None


def test_spine_dataset_labels_asd_per_subject(tmp_path):
    out = tmp_path / "spine"
    build_dataset(BuildOptions("spine", 12, str(out), seed=2, max_bystanders=0))
    asd_of = {}
    for label in _labels(out):
        assert asd_of.setdefault(label["subject"]["id"], label["asd"]) == label["asd"]
        if label["asd"]:
            assert label["posture"]["trunk_flexion_deg"] >= 14
    assert set(asd_of.values()) == {True, False}


def test_splits_cover_every_subject_once():
    splits = subject_splits(20, seed=0)
    assert sorted(splits) == list(range(20))
    counts = {name: list(splits.values()).count(name) for name in ("train", "val", "test")}
    assert counts == {"train": 14, "val": 3, "test": 3}
    assert subject_splits(2, seed=0) == {0: "train", 1: "train"}


def test_cli_makes_a_dataset_and_refuses_to_mix_datasets(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["synth", "make", "--task", "gait", "--n", "2", "--out", str(out), "--workers", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["clips"] == 2 and summary["timing"]["clips_per_second"] > 0
    assert (out / "manifest.json").exists()
    assert main(["synth", "make", "--task", "gait", "--n", "2", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_bad_options_are_refused():
    with pytest.raises(InputError, match="task"):
        BuildOptions("dance", 1, "x").resolved()
    with pytest.raises(InputError, match="at least 1"):
        BuildOptions("gait", 0, "x").resolved()
    with pytest.raises(InputError, match="fps"):
        BuildOptions("gait", 1, "x", fps=25).resolved()
