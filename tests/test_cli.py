"""``python -m core gait``: the JSON contract on success, one line and exit 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env=os.environ.copy()
    )


def test_gait_writes_the_json_contract(demo_clip, demo_analysis, tmp_path):
    out = tmp_path / "result.json"
    done = run_cli("gait", str(demo_clip), "--height-cm", "172", "--json", str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["video"]["frames"] == demo_analysis.video.frames and doc["video"]["width"] == 640
    assert doc["patient"]["track_id"] == demo_analysis.selection.track_id
    assert doc["tracks"] and all(len(row) == 5 for row in doc["tracks"][0]["boxes"])
    assert "pose" in doc["timings"]["cached"], "the CLI shares the stage cache with the app"


def test_gait_prints_json_to_stdout(demo_clip, demo_analysis):
    done = run_cli("gait", str(demo_clip))
    assert done.returncode == 0
    assert json.loads(done.stdout)["kind"] == "gait"


def test_bad_input_exits_2_with_one_line(tmp_path):
    (tmp_path / "report.mp4").write_text("not a video")
    done = run_cli("gait", str(tmp_path / "report.mp4"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "not a video" in done.stderr
    done = run_cli("gait", str(tmp_path / "report.mp4"), "--height-cm", "900")
    assert done.returncode == 2 and "plausible height" in done.stderr
