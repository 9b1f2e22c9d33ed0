"""The Falls page through Streamlit's AppTest: upload, alarm banner and delivery, acknowledgement, save."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.storage import open_database
from core.storage.alarms import list_alarms
from core.storage.records import analyses_of_patient, create_patient, get_analysis, list_patients
from tests.conftest import ROOT
from tests.test_fall_analysis import (
    CLIP_IMGSZ,
    CLIP_LYING_ALARM_S,
    fall_recording,
    local_webhook,
    sensor_csv,
)

TIMEOUT_S = 300
PAGE = "pages/fall.py"


@pytest.fixture
def webhook():
    with local_webhook() as server:
        yield server


def fall_page(code: str, secrets: dict | None = None) -> AppTest:
    db = open_database()
    patient = next((p for p in list_patients(db) if p.code == code), None) or create_patient(db, code)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    at.session_state["patient_id"] = patient.id
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "success", "warning", "error")
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def widget(items, label: str):
    return next(w for w in items if w.label == label)


def test_a_sensor_fall_raises_delivers_and_is_acknowledged_and_saved(tmp_path, webhook):
    url = f"http://127.0.0.1:{webhook.server_port}/alarm"
    at = fall_page("FALLPAGE-1", {"alarms": {"webhook_urls": [url], "retries": 0, "timeout_s": 5.0}})
    assert "Upload a video, a sensor recording or both" in texts(at)

    csv = sensor_csv(tmp_path / "night.csv", "fall_backward_from_walking")
    at.file_uploader[1].set_value(("night.csv", csv.read_bytes(), "text/csv")).run()
    assert not at.exception, at.exception
    banner = [e.value for e in at.error if "FALL ALARM" in e.value]
    assert len(banner) == 1 and "FALLPAGE-1 fell at" in banner[0] and "webhook to" in banner[0]
    assert len(webhook.received) == 1 and webhook.received[0]["patient"] == "FALLPAGE-1"
    assert widget(at.metric, "Fall").value == "yes" and widget(at.metric, "Alarms").value == "1"
    assert at.get("plotly_chart") and at.dataframe

    at.run()  # a rerun must not alarm again
    assert len(webhook.received) == 1

    widget(at.text_input, "Your name").set_value("Nurse Kim")
    widget(at.button, "Acknowledge").click().run()
    assert not at.exception
    assert not [e for e in at.error if "FALL ALARM" in e.value]
    assert "acknowledged by Nurse Kim" in texts(at)

    widget(at.button, "Save analysis").click().run()
    assert any("Saved as analysis" in s.value for s in at.success)
    db = open_database()
    patient_id = at.session_state["patient_id"]
    saved = analyses_of_patient(db, patient_id)
    assert [a.kind for a in saved] == ["fall"] and saved[0].results["Fall"] == 1.0
    (stored,) = list_alarms(db, patient_id=patient_id)
    assert stored.analysis_id == saved[0].id and stored.acknowledged_by == "Nurse Kim" and stored.delivered
    assert get_analysis(db, saved[0].id).document["alarm"] is True


def test_a_fall_on_video_shows_states_snapshot_timeline_and_alarm(tmp_path_factory):
    video, _ = fall_recording(tmp_path_factory)
    at = fall_page("FALLPAGE-2")
    at.select_slider[0].set_value(CLIP_IMGSZ)
    widget(at.number_input, "Lying after a fall before the alarm (s)").set_value(CLIP_LYING_ALARM_S)
    widget(at.checkbox, "Ask the fallen-person detector for a second opinion (shown, not counted)").uncheck()
    at.file_uploader[0].set_value(("fall.webm", video.read_bytes(), "video/webm")).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if "FALL ALARM" in e.value], texts(at)
    assert at.get("video"), "the annotated video is shown"
    assert at.get("plotly_chart")
    events = at.dataframe[0].value
    assert list(events["seen by"]) == ["video"] and events["snapshot"][0].startswith("data:image/png")
    assert "Green upright" in texts(at)


def test_a_bad_sensor_file_is_explained(tmp_path):
    at = fall_page("FALLPAGE-3")
    at.file_uploader[1].set_value(("notes.csv", b"just some notes\nnot a recording\n" * 10, "text/csv")).run()
    assert not at.exception
    assert any("single column" in e.value for e in at.error)
