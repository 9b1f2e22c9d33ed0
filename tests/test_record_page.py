"""The patient record page through AppTest: trends with a flagged change, two visits side by side, the
report, and edits and deletions that ask first."""

from __future__ import annotations

import re
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from core.storage import open_database
from core.storage.records import analyses_of_patient, get_patient, list_patients, visits_of
from tests.clinic import patient_with_visits
from tests.conftest import ROOT
from tests.test_history import RETEST_DIFFERENCES, add_retest_visits, history_patient
from tests.test_pages import TIMEOUT_S, texts


@pytest.fixture(scope="module")
def clinic_mdc() -> None:
    """Enough repeated trials in the (shared) clinic database for a Velocity MDC."""
    add_retest_visits(open_database(), RETEST_DIFFERENCES)


def record_page(patient_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.session_state["patient_id"] = patient_id
    at.run()
    at.switch_page("pages/patients.py").run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_history_shows_trends_the_flagged_change_and_two_visits_side_by_side(clinic_mdc):
    at = record_page(history_patient(open_database()))
    assert "Patient HIST-1" in [s.value for s in at.subheader]
    assert any(
        "Change beyond the MDC - Velocity: 2026-02-16 6 weeks -> 2026-04-06 3 months changed by +16 cm/s"
        in w.value
        for w in at.warning
    )
    assert len(at.get("plotly_chart")) == 3, "the timeline and the Velocity and Cadence trends"
    # The clinic's MDC pools every patient's repeated trials in the shared test database.
    assert re.search(r"MDC95 [0-9.]+ cm/s from this clinic's first two trials at \d+ visits", texts(at))
    assert "No MDC available: record two trials per visit (the clinic has" in texts(at), "Cadence"
    assert "Dashed line: mean of women 70-79" in texts(at)

    comparison = next(
        d.value for d in at.dataframe if "beyond MDC" in d.value.columns and "earlier" in d.value.columns
    )
    velocity = comparison.set_index("parameter").loc["Velocity"]
    assert (velocity["earlier"], velocity["later"], velocity["change"], velocity["beyond MDC"]) == (
        104,
        120,
        16,
        "yes",
    )
    assert "The annotated video of this trial is not stored on this server." in texts(at)
    assert any(b.label == "Export report (HTML)" for b in at.get("download_button"))


def test_details_are_edited_and_the_change_is_logged():
    patient_id = patient_with_visits(open_database(), "REC-EDIT", [], birth_year=1960)
    at = record_page(patient_id)
    next(n for n in at.number_input if n.label == "Height (cm)").set_value(172.0)
    next(t for t in at.text_area if t.label == "Notes").set_value("uses a walker")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert not at.exception, at.exception
    assert "Saved the details of REC-EDIT." in [s.value for s in at.success]
    stored = get_patient(open_database(), patient_id)
    assert (stored.birth_year, stored.height_cm, stored.notes) == (1960, 172.0, "uses a walker")
    log = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert log["action"].tolist() == ["update"]


def test_deleting_a_patient_needs_the_typed_code():
    patient_id = patient_with_visits(
        open_database(), "REC-DEL", [(date(2026, 2, 1), "baseline", [{"Velocity": 100.0}])]
    )
    at = record_page(patient_id)
    button(at, "Delete patient").click().run()
    assert any("Type the patient's code, REC-DEL, to confirm the deletion" in e.value for e in at.error)
    assert get_patient(open_database(), patient_id) is not None

    next(t for t in at.text_input if t.label == "Type the code REC-DEL to confirm").set_value("REC-DEL")
    button(at, "Delete patient").click().run()
    assert not at.exception, at.exception
    assert "Deleted patient REC-DEL with 1 visit, 1 analysis." in [s.value for s in at.success]
    assert get_patient(open_database(), patient_id) is None
    assert "REC-DEL" not in {p.code for p in list_patients(open_database())}


def test_deleting_a_visit_or_an_analysis_needs_a_tick():
    db = open_database()
    patient_id = patient_with_visits(
        db,
        "REC-VISIT",
        [
            (date(2026, 2, 1), "baseline", [{"Velocity": 100.0}, {"Velocity": 102.0}]),
            (date(2026, 3, 1), "follow-up", [{"Velocity": 104.0}]),
        ],
    )
    at = record_page(patient_id)
    assert button(at, "Delete visit").disabled and button(at, "Delete analysis").disabled

    next(c for c in at.checkbox if c.label.startswith("Yes, delete analysis")).check().run()
    button(at, "Delete analysis").click().run()
    assert not at.exception, at.exception
    assert len(analyses_of_patient(db, patient_id)) == 2

    next(
        c for c in at.checkbox if c.label == "Yes, delete the visit 2026-02-01 baseline with all its analyses"
    ).check().run()
    button(at, "Delete visit").click().run()
    assert "Deleted the visit of 2026-02-01 with 2 analyses." in [s.value for s in at.success]
    assert [v.label for v in visits_of(db, patient_id)] == ["follow-up"]
