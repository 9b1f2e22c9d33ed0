"""The database: validated patients, atomic saves, migrations that match the models, concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.errors import InputError
from core.settings import settings
from core.storage import Analysis, Base, Database, Patient, Result, Visit
from core.storage.audit import audit_trail, patient_audit
from core.storage.records import (
    AnalysisRecord,
    ResultRow,
    add_visit,
    analyses_of_patient,
    create_patient,
    delete_analysis,
    delete_patient,
    delete_visit,
    get_patient,
    patient_overview,
    recent_analyses,
    save_analysis,
    update_analysis,
    update_patient,
    update_visit,
)
from tests.clinic import save_in_child


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
    assert sorted(a.trial for a in stored) == list(range(1, 31)), "each save has its own trial number"
    assert counts(db) == (1, 30, 60)


# --- edits and deletions, with their audit rows ----------------------------------------------------------


def test_editing_a_patient_is_audited_and_a_stale_form_is_refused(db):
    patient = create_patient(db, "GAIT-010", 1950, "female", 160.0)
    create_patient(db, "GAIT-011")
    edited = update_patient(
        db,
        patient.id,
        code="GAIT-010",
        birth_year=1951,
        sex="female",
        height_cm=161.5,
        notes="walks with a cane",
    )
    assert (edited.birth_year, edited.height_cm, edited.notes) == (1951, 161.5, "walks with a cane")
    [entry] = audit_trail(db, table_name="patients", row_id=patient.id)
    assert entry.action == "update"
    assert entry.summary == {
        "birth_year": [1950, 1951],
        "height_cm": [160.0, 161.5],
        "notes": [None, "walks with a cane"],
    }

    with pytest.raises(InputError, match="changed in another session"):
        update_patient(
            db,
            patient.id,
            code="GAIT-010",
            birth_year=1952,
            sex="female",
            height_cm=161.5,
            expected_updated_at=patient.updated_at,  # the form was filled before the edit above
        )
    with pytest.raises(InputError, match="already exists"):
        update_patient(db, patient.id, code="GAIT-011", birth_year=None, sex=None, height_cm=None)
    assert get_patient(db, patient.id).birth_year == 1951


def test_deleting_a_patient_needs_the_code_and_takes_everything_with_it(db):
    media = settings().media_dir
    (media / "input-1.mp4").write_bytes(b"video")
    (media / "annotated-1.mp4").write_bytes(b"video")
    patient = create_patient(db, "GAIT-012")
    save_analysis(
        db, record(input_path="input-1.mp4", annotated_path="annotated-1.mp4"), new_visit_of=patient.id
    )
    save_analysis(db, record(), new_visit_of=patient.id)
    with pytest.raises(InputError, match="Type the patient's code, GAIT-012"):
        delete_patient(db, patient.id, "gait-012 ")
    assert counts(db) == (2, 2, 4), "a wrong confirmation deletes nothing"

    deletion = delete_patient(db, patient.id, " GAIT-012")
    assert deletion.summary() == "Deleted patient GAIT-012 with 2 visits, 2 analyses."
    assert counts(db) == (0, 0, 0)
    assert deletion.media_files_removed == 2 and not (media / "input-1.mp4").exists()
    [entry] = audit_trail(db, table_name="patients")
    assert entry.summary == {"code": "GAIT-012", "visits": 2, "analyses": 2}


def test_deleting_a_visit_or_an_analysis_keeps_videos_others_still_use(db):
    media = settings().media_dir
    (media / "shared.mp4").write_bytes(b"video")
    patient = create_patient(db, "GAIT-013")
    first = save_analysis(
        db, record(input_path="shared.mp4"), new_visit_of=patient.id, visit_date=date(2026, 1, 5)
    )
    second = save_analysis(
        db, record(input_path="shared.mp4"), new_visit_of=patient.id, visit_date=date(2026, 2, 5)
    )
    stored = {a.id: a for a in analyses_of_patient(db, patient.id)}

    assert (
        delete_visit(db, stored[first].visit_id).summary()
        == "Deleted the visit of 2026-01-05 with 1 analysis."
    )
    assert (media / "shared.mp4").exists(), "the other visit's analysis still shows this video"
    assert delete_analysis(db, second).media_files_removed == 1
    assert counts(db) == (1, 0, 0)
    assert [(e.action, e.table_name) for e in audit_trail(db)] == [
        ("delete", "analyses"),
        ("delete", "visits"),
    ]
    with pytest.raises(InputError, match="no longer exists"):
        delete_analysis(db, second)


def test_an_analysis_can_move_to_another_visit_or_trial_number(db):
    patient = create_patient(db, "GAIT-014")
    a = save_analysis(db, record(), new_visit_of=patient.id, visit_date=date(2026, 1, 5))
    b = save_analysis(db, record(), new_visit_of=patient.id, visit_date=date(2026, 1, 6))
    visit_a, visit_b = (s.visit_id for s in analyses_of_patient(db, patient.id))
    with pytest.raises(InputError, match="already has trial 1"):
        update_analysis(db, b, visit_id=visit_a)
    update_analysis(db, b, visit_id=visit_a, trial=3)
    assert [(s.id, s.visit_id, s.trial) for s in analyses_of_patient(db, patient.id)] == [
        (a, visit_a, 1),
        (b, visit_a, 3),
    ]
    assert audit_trail(db, table_name="analyses")[0].summary == {
        "visit_id": [visit_b, visit_a],
        "trial": [1, 3],
        "patient_id": patient.id,
    }
    other = create_patient(db, "GAIT-015")
    c = save_analysis(db, record(), new_visit_of=other.id)
    with pytest.raises(InputError, match="same patient"):
        update_analysis(db, c, visit_id=visit_a)


def test_editing_a_visit_is_audited(db):
    patient = create_patient(db, "GAIT-016")
    visit = add_visit(db, patient.id, date(2026, 1, 5), "baseline")
    update_visit(db, visit.id, visit_date=date(2026, 1, 6), label=" baseline ")
    assert audit_trail(db, table_name="visits")[0].summary == {
        "visit_date": ["2026-01-05", "2026-01-06"],
        "patient_id": patient.id,
    }
    assert [e.table_name for e in patient_audit(db, patient.id)] == ["visits"]


# --- upgrades -------------------------------------------------------------------------------------------


def test_a_database_of_revision_0001_upgrades_without_losing_rows(tmp_path):
    old = Database(f"sqlite:///{tmp_path / 'old.db'}")
    old.migrate("0001")
    with old.transaction() as s:  # written with the models of revision 0001's tables only
        patient = Patient(code="OLD-1", birth_year=1940, sex="male", height_cm=170.0)
        visit = Visit(patient=patient, visit_date=date(2025, 5, 1), label="before the upgrade")
        # two analyses numbered trial 1 by concurrent saves before 0002
        for name in ("a.mp4", "b.mp4", "c.mp4"):
            s.add(
                Analysis(
                    visit=visit,
                    kind="gait",
                    trial=1 if name != "c.mp4" else 2,
                    input_name=name,
                    input_sha256="b" * 64,
                    results=[
                        Result(name="Velocity", value=101.0, unit="cm/s"),
                        Result(name="Cadence", value=99.0),
                    ],
                )
            )
    assert counts(old) == (1, 3, 6)
    old.migrate()
    assert counts(old) == (1, 3, 6), "nothing is lost, results included"
    upgraded = analyses_of_patient(old, patient.id)
    assert [(a.input_name, a.trial) for a in upgraded] == [("a.mp4", 1), ("b.mp4", 3), ("c.mp4", 2)]
    [renumbered] = audit_trail(old)
    assert (renumbered.action, renumbered.summary["trial"]) == ("renumber", [1, 3])
    with old.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    old.dispose()


# --- concurrency ----------------------------------------------------------------------------------------

CHILD_SAVES = 25


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory):
    """A PostgreSQL database: ``DATABASE_URL`` when the tests are told to keep it, else a temporary cluster
    when the server binaries are installed; skipped (with the reason) otherwise."""
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith("postgresql"):
        yield given
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("no PostgreSQL driver (pip install 'psycopg[binary]')")
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    initdb = binaries[-1] if binaries else (Path(p) if (p := shutil.which("initdb")) else None)
    if initdb is None:
        pytest.skip("PostgreSQL server binaries (initdb) are not installed")
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        run_as = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="movescope-pg-"))
    if run_as:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, pg_ctl = folder / "data", initdb.parent / "pg_ctl"
    subprocess.run(
        [*run_as, str(initdb), "-D", str(data), "-A", "trust", "-U", "movescope", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
    subprocess.run(
        [*run_as, str(pg_ctl), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://movescope@/postgres?host={folder}"
    finally:
        subprocess.run(
            [*run_as, str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    database = Database(url)
    database.migrate()
    if request.param == "postgresql":  # a fresh schema per test: drop what an earlier test left
        database.dispose()
        with database.engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        database.migrate()
    yield database
    database.dispose()


def test_two_processes_saving_to_one_visit_lose_nothing(any_db):
    """Two server processes (as two browser sessions behind two workers) save to one visit at once."""
    patient = create_patient(any_db, "GAIT-020")
    visit = add_visit(any_db, patient.id, date(2026, 5, 2))
    start_at = time.time() + 2.0  # both children are up and connected by then
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(save_in_child, any_db.url, visit.id, CHILD_SAVES, start_at) for _ in range(2)]
        seconds = [job.result(timeout=120) for job in jobs]
    stored = analyses_of_patient(any_db, patient.id)
    assert len(stored) == 2 * CHILD_SAVES
    assert sorted(a.trial for a in stored) == list(range(1, 2 * CHILD_SAVES + 1)), "numbered apart, none lost"
    assert counts(any_db) == (1, 2 * CHILD_SAVES, 2 * CHILD_SAVES)
    name = any_db.engine.dialect.name
    print(f"\n{name}: 2 processes x {CHILD_SAVES} saves to one visit in {max(seconds):.2f} s")


def test_threads_saving_and_editing_one_patient_at_once(any_db):
    patient = create_patient(any_db, "GAIT-021")
    visit = add_visit(any_db, patient.id, date(2026, 5, 3))
    errors: list[Exception] = []

    def save_many() -> None:
        try:
            for _ in range(10):
                save_analysis(any_db, record(), visit_id=visit.id)
                save_analysis(any_db, record(), new_visit_of=patient.id)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    def edit_many() -> None:
        try:
            for year in range(1950, 1960):
                update_patient(any_db, patient.id, code="GAIT-021", birth_year=year, sex=None, height_cm=None)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=f) for f in (save_many, save_many, edit_many)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = analyses_of_patient(any_db, patient.id)
    assert len(stored) == 40 and len({a.visit_id for a in stored}) == 21
    assert sorted(a.trial for a in stored if a.visit_id == visit.id) == list(range(1, 21))
    assert get_patient(any_db, patient.id).birth_year == 1959
    assert len(audit_trail(any_db, table_name="patients")) == 10


def test_a_save_that_lost_its_trial_number_to_another_session_is_retried(db, monkeypatch):
    import core.storage.records as records

    patient = create_patient(db, "GAIT-022")
    original, calls = records._insert_analysis, []

    def clash_once(*args):
        calls.append(args)
        if len(calls) == 1:  # what the unique index says when another session took the number first
            clash = Exception("UNIQUE constraint failed: analyses.visit_id, analyses.kind, analyses.trial")
            raise IntegrityError("INSERT INTO analyses ...", {}, clash)
        return original(*args)

    monkeypatch.setattr(records, "_insert_analysis", clash_once)
    save_analysis(db, record(), new_visit_of=patient.id)
    assert len(calls) == 2 and counts(db) == (1, 1, 2), "the first attempt left nothing, the second saved"
