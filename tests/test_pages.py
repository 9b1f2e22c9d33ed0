"""Every page through Streamlit's AppTest: it renders, the upload works, errors are words, not tracebacks."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.storage import open_database
from core.storage.records import analyses_of_patient, create_patient, list_patients, save_analysis
from tests.conftest import ROOT

TIMEOUT_S = 300


def app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "success", "warning", "error")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_sidebar_creates_and_selects_a_patient():
    at = app()
    next(t for t in at.text_input if t.label == "Pseudonymous code").set_value("APPTEST-0")
    next(n for n in at.number_input if n.label == "Height (cm)").set_value(171.5)
    next(b for b in at.button if b.label == "Create patient").click()
    at.run()
    assert not at.exception
    patient = next(p for p in list_patients(open_database()) if p.code == "APPTEST-0")
    assert patient.height_cm == 171.5
    assert at.session_state["patient_id"] == patient.id, "the new patient becomes the current one"


def with_patient(code: str) -> AppTest:
    """A fresh app whose sidebar has ``code`` selected."""
    db = open_database()
    patient = next((p for p in list_patients(db) if p.code == code), None) or create_patient(db, code)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.session_state["patient_id"] = patient.id
    at.run()
    assert not at.exception
    return at


def test_home_page():
    at = app()
    assert at.title[0].value == "MoveScope"
    assert "Gait" in texts(at)
    assert [m.label for m in at.metric] == ["Patients", "Visits", "Analyses"]


def test_gait_upload_flow_override_and_save(demo_clip, demo_analysis):
    at = with_patient("APPTEST-1")
    at.switch_page("pages/gait.py").run()
    assert "Upload a video to start" in texts(at)

    at.file_uploader[0].set_value(("walk.mp4", demo_clip.read_bytes(), "video/mp4"))
    at.run()
    assert not at.exception, at.exception
    # the photographed people slide without moving their legs: no gait, and the page says why
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert errors[0].startswith(
        "MoveScope does not report gait parameters for this video: the legs do not step"
    )
    assert at.get("video"), "the annotated video is shown"
    assert "walked across the image" in texts(at)
    assert at.dataframe, "the candidate table is shown"

    other = next(t.id for t in demo_analysis.tracks if t.id != demo_analysis.selection.track_id)
    patient_box = next(s for s in at.selectbox if s.label == "Patient")
    patient_box.set_value(other).run()
    assert not at.exception
    assert any(m.value == f"track {other}" for m in at.metric)

    next(t for t in at.text_input if t.label == "Label of the new visit").set_value("baseline")
    next(b for b in at.button if b.label == "Save analysis").click().run()
    assert not at.exception
    assert any("Saved as analysis" in s.value for s in at.success)
    db = open_database()
    patient = next(p for p in list_patients(db) if p.code == "APPTEST-1")
    stored = analyses_of_patient(db, patient.id)
    assert len(stored) == 1 and stored[0].patient_track_id == other and stored[0].visit_label == "baseline"


def test_gait_page_explains_a_bad_upload():
    at = app()
    at.switch_page("pages/gait.py").run()
    at.file_uploader[0].set_value(("walk.mp4", b"this is a text file, not a video\n" * 50, "video/mp4"))
    at.run()
    assert not at.exception
    assert any("not a video" in e.value for e in at.error)


def test_patients_page_lists_patients_and_opens_an_analysis(demo_analysis):
    at = with_patient("APPTEST-2")
    at.switch_page("pages/patients.py").run()
    assert not at.exception
    assert at.dataframe, "the patient list is shown"
    db = open_database()
    patient_id = at.session_state["patient_id"]
    record = demo_analysis.to_record("walk.mp4", None, None)
    save_analysis(db, record, new_visit_of=patient_id, visit_label="follow-up")
    at.run()
    assert not at.exception
    assert "follow-up" in at.dataframe[-1].value.to_string()
    assert any(s.label == "Open analysis" for s in at.selectbox)
    assert "not stored on this server" in texts(at), "no annotated video was stored with this record"
    assert "walked across the image" in texts(at)


@pytest.mark.shared
def test_gait_page_shows_parameters_of_a_real_walk(shared_data):
    db = open_database()
    patient = next((p for p in list_patients(db) if p.code == "APPTEST-S2D"), None) or create_patient(
        db, "APPTEST-S2D", 1990, "female", 165.0
    )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.session_state["patient_id"] = patient.id
    at.run()
    at.switch_page("pages/gait.py").run()
    video = (shared_data / "walking" / "sports2d_demo.mp4").read_bytes()
    at.file_uploader[0].set_value(("sports2d_demo.mp4", video, "video/mp4")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = next(d.value for d in at.dataframe if "parameter" in d.value.columns)
    values = dict(zip(table["parameter"], table["value"], strict=True))
    assert 80 < values["Velocity"] < 160, "a 165 cm adult walking at ease (height from the patient record)"
    assert 85 < values["Cadence"] < 130
    assert "women 30-39" in set(table["reference group"]), "compared with women of her age (born 1990)"
    assert any(b.label == "Export CSV (GAITRite columns)" for b in at.get("download_button"))
