"""Fall analysis: video and sensor fused into one decision, the JSON contract of ``python -m core fall``,
what the database keeps, and exit status 2 with one line on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from core.cache import StageCache
from core.cli import main
from core.fall.analysis import FallSettings, analyse_fall, fuse_events
from core.fall.bench import SIM_FPS, hold_last_pose, make_fall_clip
from core.fall.second_opinion import FALL_CLASS, SECOND_OPINION_WEIGHT, Detections
from core.fall.video import VideoFallEvent
from core.pose import PoseSettings
from core.settings import settings
from core.storage import open_database
from core.storage.alarms import get_alarm
from core.synth.body import Body
from core.synth.falls import simulate_activity
from core.synth.sensors import single_device, write_device_csv
from tests.conftest import ROOT

CLIP_IMGSZ = 640  # the lab's rendered figure lying on the floor is found at 640, mostly not at 320
CLIP_LYING_ALARM_S = 2.0  # short, so a short clip shows the alarm


class _Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def local_webhook():
    """A local HTTP server that records the alarms posted to it (``.received``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def webhook():
    with local_webhook() as server:
        yield server


def fall_recording(tmp_path_factory) -> tuple[Path, Path]:
    """A rendered fall (6 s, then 4 s lying) and the waist sensor worn meanwhile; made once per session."""
    return _fall_recording(str(tmp_path_factory.getbasetemp() / "fall-clip"))


@cache
def _fall_recording(folder: str) -> tuple[Path, Path]:
    video, sensor = Path(folder) / "fall.webm", Path(folder) / "fall_waist.csv"
    make_fall_clip(video, seconds=6.0, hold_s=4.0, fps=10.0, width_px=480, seed=3, sensor_path=sensor)
    return video, sensor


def clip_settings(**changes) -> FallSettings:
    values = {
        "pose": PoseSettings(imgsz=CLIP_IMGSZ),
        "lying_alarm_s": CLIP_LYING_ALARM_S,
        "second_opinion": False,
    }
    return FallSettings(**{**values, **changes})


def sensor_csv(path: Path, activity: str, seed: int = 1, hold_s: float = 12.0) -> Path:
    rng = np.random.default_rng(seed)
    motion, _ = simulate_activity(activity, Body.sample(rng), rng, 10.0, SIM_FPS)
    return write_device_csv(single_device(hold_last_pose(motion, hold_s), "waist", rng), path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "fall", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )


def check_contract(document: dict) -> None:
    assert isinstance(document["fall"], bool)
    assert 0.0 <= document["probability"] <= 1.0
    for event in document["events"]:
        assert {"start_s", "end_s", "kind", "alarm"} <= set(event)
        assert event["start_s"] <= event["end_s"] and isinstance(event["alarm"], bool)
    for modality in document["modalities"].values():
        assert 0.0 <= modality["probability"] <= 1.0


def test_a_sensor_fall_with_a_long_lie_is_a_fall_with_an_alarm(tmp_path):
    result = analyse_fall(sensor=sensor_csv(tmp_path / "waist.csv", "fall_forward_from_standing"))
    document = result.to_document()
    check_contract(document)
    assert document["fall"] and document["alarm"] and document["modalities"]["sensor"]["probability"] > 0.5
    assert [e["modalities"] for e in document["events"]] == [["sensor"]]
    event = document["events"][0]
    assert event["alarm_s"] == pytest.approx(event["end_s"] + 10.0, abs=1.0)
    alarms = result.alarms("WARD3-07", "bed 4")
    assert len(alarms) == 1 and "WARD3-07 fell at" in alarms[0].message and alarms[0].camera == "bed 4"
    rows = {r.name: r.value for r in result.to_record("waist.csv").results}
    assert rows["Fall"] == 1.0 and rows["Alarms"] == 1.0 and rows["First fall time"] == event["end_s"]


def test_sitting_down_is_no_fall(tmp_path):
    document = analyse_fall(sensor=sensor_csv(tmp_path / "sit.csv", "sit_down")).to_document()
    check_contract(document)
    assert not document["fall"] and document["events"] == [] and document["probability"] < 0.5


def test_a_video_and_a_sensor_fall_at_the_same_moment_are_one_event(tmp_path):
    sensor = analyse_fall(sensor=sensor_csv(tmp_path / "waist.csv", "fall_forward_from_standing")).sensor
    impact = sensor.events[0].impact_s

    def video_fall(end_s: float) -> VideoFallEvent:
        return VideoFallEvent(
            1, end_s - 0.5, end_s, end_s + 12, 1.8, 1.0, 0.9, 30, (0, 0, 10, 10), end_s + 10
        )

    together = fuse_events([video_fall(impact + 1.0)], sensor)
    assert [e.modalities for e in together] == [("video", "sensor")]
    assert together[0].alarm_s == min(impact + 11.0, sensor.events[0].alarm_s)
    apart = fuse_events([video_fall(impact + 6.0)], sensor)
    assert sorted(e.modalities for e in apart) == [("sensor",), ("video",)]


def test_a_recorded_video_and_sensor_both_see_the_fall(tmp_path_factory):
    video, sensor = fall_recording(tmp_path_factory)
    result = analyse_fall(video, sensor, clip_settings(), StageCache(settings().cache_dir))
    document = result.to_document()
    check_contract(document)
    assert document["fall"] and document["alarm"]
    assert [e["modalities"] for e in document["events"]] == [["video", "sensor"]], document["events"]
    assert document["modalities"]["video"]["probability"] > 0.5
    assert document["modalities"]["sensor"]["probability"] > 0.5
    assert document["video"]["frames"] == 100 and document["tracks"]
    states = {run[2] for runs in document["modalities"]["video"]["body_states"].values() for run in runs}
    assert {"upright", "falling", "lying"} <= states
    record = result.to_record(result.input_name("fall.webm", "fall_waist.csv"))
    assert record.kind == "fall" and record.input_name == "fall.webm + fall_waist.csv"
    assert len(record.input_sha256) == 64 and record.input_sha256 not in (result.sensor_sha256,)
    timeline = result.timeline()
    assert timeline["video_probability"].max() > 0.5 and timeline["sensor_probability"].max() > 0.5
    assert timeline["alarms_s"] and np.nanmax(timeline["body_state"]) >= 3


def test_cli_writes_the_contract(tmp_path):
    out = tmp_path / "fall.json"
    done = run_cli(
        "--sensor", str(sensor_csv(tmp_path / "waist.csv", "fall_lateral_from_walking")), "--json", str(out)
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    check_contract(document)
    assert document["fall"] and document["events"][0]["kind"] == "fall"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --video, --sensor or both"),
        (("--sensor", "missing.csv"), "file not found"),
        (("--sensor", "{bad}"), "single column"),
        (("--sensor", "{good}", "--lying-alarm-s", "-5"), "lying time"),
        (("--video", "{bad}"), "not a video"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    bad = tmp_path / "notes.csv"
    bad.write_text("this is not a sensor recording\n" * 20)
    good = sensor_csv(tmp_path / "waist.csv", "walk", hold_s=0.0)
    assert main(["fall", *(a.format(bad=bad, good=good) for a in args)]) == 2
    error = capsys.readouterr().err
    assert error.strip().count("\n") == 0 and message in error, error


def test_cli_notify_stores_and_delivers_the_alarm_once(tmp_path, webhook, capsys):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'[alarms]\nwebhook_urls = ["http://127.0.0.1:{webhook.server_port}/a"]\nretries = 0\n'
    )
    csv = sensor_csv(tmp_path / "night.csv", "fall_backward_from_standing")
    args = ["fall", "--sensor", str(csv), "--notify", "--secrets", str(secrets), "--patient", "CLI-7"]
    assert main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--json", str(tmp_path / "b.json")]) == 0  # run twice: the alarm is not repeated
    first, second = (json.loads((tmp_path / n).read_text())["raised_alarms"] for n in ("a.json", "b.json"))
    assert len(first) == 1 and first == second and first[0]["delivery"]["delivered"]
    assert [a["patient"] for a in webhook.received] == ["CLI-7"]
    stored = get_alarm(open_database(), first[0]["id"])
    assert stored.source == "night.csv" and not stored.acknowledged


def test_the_fallen_person_detector_scores_tracked_people_and_is_only_shown(tmp_path_factory):
    boxes = np.array([[0, 0, 100, 200], [300, 0, 400, 200]], float)
    found = Detections(boxes, np.array([FALL_CLASS, 0]), np.array([0.8, 0.9]))
    assert found.fall_score(np.array([5, 5, 100, 190])) == 0.8  # overlaps the "Fall" box
    assert found.fall_score(np.array([300, 10, 395, 200])) == 0.0  # only a "Normal" box
    assert np.isnan(found.fall_score(np.array([600, 0, 700, 200])))  # the detector did not see them

    video, _ = fall_recording(tmp_path_factory)
    settings_with_opinion = clip_settings(second_opinion=True)
    result = analyse_fall(video, None, settings_with_opinion, StageCache(settings().cache_dir))
    opinion = result.opinion
    assert opinion is not None and opinion.weight == SECOND_OPINION_WEIGHT == 0.0
    assert len(opinion.frames) == 20 and set(opinion.scores) == {t.id for t in result.tracked.tracks}
    scores = np.concatenate(list(opinion.scores.values()))
    assert np.all(np.isnan(scores) | ((scores >= 0) & (scores <= 1)))
    without = analyse_fall(video, None, clip_settings(), StageCache(settings().cache_dir))
    assert result.probability == without.probability, "weight 0: the detector never changes the decision"
    timeline = result.timeline()
    assert len(timeline["detector_time_s"]) == 20
    assert result.to_document()["modalities"]["video"]["second_opinion"]["frames_checked"] == 20
