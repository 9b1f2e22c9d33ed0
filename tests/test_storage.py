"""The database: validated patients, atomic saves, migrations that match the models, concurrent writers."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from core.errors import InputError
from core.storage import Analysis, Base, Database, Result, Visit
from core.storage.records import (
    AnalysisRecord,
    ResultRow,
    add_visit,
    analyses_of_patient,
    create_patient,
    patient_overview,
    recent_analyses,
    save_analysis,
)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'clinic.db'}")
    database.migrate()
    yield database
    database.dispose()


def record(**overrides) -> AnalysisRecord:
    values = dict(
        kind="gait",
        input_name="walk.mp4",
        input_sha256="a" * 64,
        document={"patient": {"track_id": 2}},
        results=[ResultRow("Velocity", 112.0, "cm/s", 4.0, 6), ResultRow("Cadence", 108.0, "steps/min")],
    )
    return AnalysisRecord(**{**values, **overrides})


def counts(db) -> tuple[int, int, int]:
    with db.reading() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Visit, Analysis, Result))


def test_migrations_create_exactly_the_modelled_schema(db):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    db.migrate()  # idempotent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": " "}, "code is required"),
        ({"code": "P1", "birth_year": 1850}, "birth year 1850"),
        ({"code": "P1", "sex": "x"}, "sex must be"),
        ({"code": "P1", "height_cm": 400}, "height 400"),
    ],
)
def test_patient_fields_are_validated(db, kwargs, message):
    with pytest.raises(InputError, match=f"(?i){message}"):
        create_patient(db, **kwargs)


def test_duplicate_patient_codes_are_refused(db):
    create_patient(db, "GAIT-001")
    with pytest.raises(InputError, match="already exists"):
        create_patient(db, "GAIT-001")


def test_saving_an_analysis_with_a_new_visit(db):
    patient = create_patient(db, "GAIT-002", 1948, "female", 158.0)
    first = save_analysis(
        db, record(), new_visit_of=patient.id, visit_date=date(2026, 3, 1), visit_label="baseline"
    )
    visit_id = analyses_of_patient(db, patient.id)[0].visit_id
    second = save_analysis(db, record(), visit_id=visit_id)
    stored = analyses_of_patient(db, patient.id)
    assert [a.id for a in stored] == [first, second]
    assert [a.trial for a in stored] == [1, 2]
    assert stored[0].results == {"Velocity": 112.0, "Cadence": 108.0}
    assert recent_analyses(db)[0].patient_code == "GAIT-002"
    overview = patient_overview(db)[0]
    assert (overview.visits, overview.analyses, overview.last_visit) == (1, 2, date(2026, 3, 1))


def test_a_failed_save_leaves_nothing_behind(db):
    patient = create_patient(db, "GAIT-003")
    broken = record(results=[ResultRow("Velocity", 1.0), ResultRow("Velocity", 2.0)])  # duplicate result name
    with pytest.raises(Exception):  # noqa: B017 - the database refuses; which error type is its business
        save_analysis(db, broken, new_visit_of=patient.id)
    assert counts(db) == (0, 0, 0), "neither the new visit nor the analysis nor any result may remain"


def test_saving_to_a_missing_visit_or_patient(db):
    with pytest.raises(InputError, match="visit no longer exists"):
        save_analysis(db, record(), visit_id=999)
    with pytest.raises(InputError, match="existing patient"):
        save_analysis(db, record(), new_visit_of=999)


def test_two_sessions_saving_to_one_patient_at_once_lose_nothing(db):
    patient = create_patient(db, "GAIT-004")
    visit = add_visit(db, patient.id, date(2026, 5, 2))
    errors = []

    def save_many():
        try:
            for _ in range(15):
                save_analysis(db, record(), visit_id=visit.id)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=save_many) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = analyses_of_patient(db, patient.id)
    assert len(stored) == 30
    assert counts(db) == (1, 30, 60)
