"""Reference measurements in the database: a walkway export is stored whole or not at all, each trial next
to its MoveScope analysis, and the rows that found none are listed with the reason."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from core.errors import InputError
from core.gait.export import gaitrite_csv
from core.reference import ReferenceImportError, read_gaitrite_export
from core.storage import ReferenceImport, ReferenceTrial, ReferenceValue
from core.storage.audit import audit_trail
from core.storage.records import add_visit, delete_analysis, save_analysis, update_visit, visits_of
from core.storage.references import (
    delete_reference_import,
    import_references,
    preview_reference_import,
    reference_imports,
    reference_pairs,
    reference_systems,
    unmatched_reference_trials,
)
from tests.clinic import gait_record, patient_with_visits


def stored(db) -> tuple[int, int, int]:
    with db.reading() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t))
            for t in (ReferenceImport, ReferenceTrial, ReferenceValue)
        )


def walkway(rows: list[tuple[str, str, int, float, float]]) -> bytes:
    """A GAITRite-style export (MoveScope's own exporter writes GAITRite's column names) of these trials:
    (patient, visit, trial, velocity cm/s, cadence steps/min)."""
    trials = [
        {"patient": p, "visit": v, "trial": t, "parameters": {"Velocity": vel, "Cadence": cad}}
        for p, v, t, vel, cad in rows
    ]
    return gaitrite_csv(trials).encode()


@pytest.fixture
def clinic(db) -> dict[str, int]:
    """Two patients: P01 walked two trials on 2026-03-01 (baseline), P02 one trial at a labelled visit."""
    p1 = patient_with_visits(
        db,
        "P01",
        [(date(2026, 3, 1), "baseline", [{"Velocity": 120.0, "Cadence": 110.0}, {"Velocity": 118.0}])],
    )
    p2 = patient_with_visits(db, "P02", [(date(2026, 3, 2), "week 6", [{"Velocity": 85.0, "Cadence": 98.0}])])
    return {"P01": p1, "P02": p2}


def test_gaitrite_export_is_stored_matched_and_unmatched_rows_listed(db, clinic):
    table = read_gaitrite_export(
        walkway(
            [
                ("P01", "2026-03-01", 1, 121.5, 109.0),  # by date
                ("p01 ", "baseline", 2, 117.0, 108.0),  # by label, other spelling of the code
                ("P02", "week 6", 1, 86.4, 97.5),
                ("P02", "week 6", 3, 90.0, 99.0),  # no trial 3 was filmed
                ("P01", "2026-06-01", 1, 125.0, 111.0),  # that visit has not happened in MoveScope
            ]
        )
    )
    preview = preview_reference_import(db, table)
    assert preview.problems == () and stored(db) == (0, 0, 0), "a preview writes nothing"

    result = import_references(db, table, file_name="gaitrite.csv")
    assert result.import_id is not None
    assert stored(db) == (1, 5, 10)
    assert [t.row.line for t in result.matched] == [2, 3, 4]
    assert {t.row.line: t.reason for t in result.unmatched} == {
        5: "the visit has no gait analysis trial 3",
        6: "patient P01 has no visit on 2026-06-01",
    }
    assert "5 GAITRite trials were imported; 3 matched an analysis, 2 did not yet" in result.summary()
    assert [t.row.line for t in unmatched_reference_trials(db)] == [5, 6]

    pairs = reference_pairs(db, "GAITRite")
    assert list(pairs["Velocity"]) == [120.0, 118.0, 85.0]
    assert list(pairs["Velocity_ref"]) == [121.5, 117.0, 86.4]
    assert pairs["Cadence"].isna().tolist() == [False, True, False], "trial 2 of P01 has no cadence"
    assert reference_systems(db) == ["GAITRite"]
    assert reference_imports(db)[0].trials == 5 and reference_imports(db)[0].matched == 3
    assert audit_trail(db, table_name="reference_imports")[0].summary["unmatched_lines"] == [5, 6]


def test_a_trial_imported_before_its_video_matches_when_the_analysis_is_saved(db, clinic):
    table = read_gaitrite_export(
        walkway([("P02", "week 6", 2, 88.0, 99.0), ("P02", "2026-05-01", 1, 90, 99)])
    )
    import_references(db, table, file_name="early.csv")
    assert len(unmatched_reference_trials(db)) == 2

    assert reference_pairs(db).empty
    [week6] = [t for t in unmatched_reference_trials(db) if t.row.visit == "week 6"]
    analysis_id = save_analysis(db, gait_record({"Velocity": 87.0}), visit_id=week6.visit_id)
    assert [t.row.visit for t in unmatched_reference_trials(db)] == ["2026-05-01"]
    assert reference_pairs(db)["analysis_id"].tolist() == [analysis_id]
    assert audit_trail(db, table_name="reference_trials")[0].action == "match"

    # A new visit on that date, then its analysis: the second row follows.
    visit = add_visit(db, clinic["P02"], date(2026, 5, 1))
    save_analysis(db, gait_record({"Velocity": 91.0}), visit_id=visit.id)
    assert unmatched_reference_trials(db) == []

    # Deleting the analysis unmatches the row but keeps the walkway's measurement.
    delete_analysis(db, analysis_id)
    assert [t.row.visit for t in unmatched_reference_trials(db)] == ["week 6"]
    assert stored(db)[1] == 2


def test_renaming_a_visit_moves_the_match(db, clinic):
    import_references(
        db, read_gaitrite_export(walkway([("P02", "6 weeks", 1, 86.0, 98.0)])), file_name="a.csv"
    )
    assert [t.reason for t in unmatched_reference_trials(db)] == ["patient P02 has no visit labelled 6 weeks"]
    [visit] = visits_of(db, clinic["P02"])
    update_visit(db, visit.id, visit_date=visit.visit_date, label="6 weeks")
    assert unmatched_reference_trials(db) == []


def test_two_visits_on_one_date_must_be_told_apart_by_label(db):
    patient_with_visits(
        db,
        "P03",
        [
            (date(2026, 4, 1), "morning", [{"Velocity": 100.0}]),
            (date(2026, 4, 1), "afternoon", [{"Velocity": 104.0}]),
        ],
    )
    rows = [("P03", "2026-04-01", 1, 101.0, 100.0), ("P03", "afternoon", 1, 103.0, 100.0)]
    result = import_references(db, read_gaitrite_export(walkway(rows)), file_name="day.csv")
    assert [t.row.line for t in result.matched] == [3]
    assert result.unmatched[0].reason == "2 visits of patient P03 are 2026-04-01: write the visit's label"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [("P01", "baseline", 1, 120, 110), ("NOBODY", "baseline", 1, 120, 110)],
            "patient 'NOBODY' (line 3)",
        ),
        ([("P01", "baseline", 1, 120, 110), ("P01", "baseline", 1, 121, 111)], "appears 2 times"),
        (
            [("P01", "baseline", 1, 120, 110), ("P01", "2026-03-01", 1, 121, 111)],
            "lines 2, 3 are the same trial",
        ),
        ([("P01", "baseline", 1, 1.2, 110)], "is the column in m/s"),
        ([("P01", "baseline", 1, 120, 110), ("P01", "", 2, 120, 110)], "line 3: the visit is empty"),
    ],
    ids=["unknown patient", "duplicate trial", "same trial by date and label", "wrong unit", "missing visit"],
)
def test_each_bad_file_imports_nothing(db, clinic, rows, expected):
    with pytest.raises(ReferenceImportError) as refused:
        import_references(db, read_gaitrite_export(walkway(rows)), file_name="bad.csv")
    assert expected in str(refused.value)
    assert stored(db) == (0, 0, 0)
    assert audit_trail(db) == []


def test_a_trial_cannot_be_imported_twice_and_a_wrong_import_can_be_replaced(db, clinic):
    first = import_references(
        db, read_gaitrite_export(walkway([("P01", "baseline", 1, 121, 110)])), file_name="a.csv"
    )
    again = read_gaitrite_export(walkway([("P02", "week 6", 1, 86, 98), ("P01", "2026-03-01", 1, 122, 111)]))
    with pytest.raises(ReferenceImportError, match=r"already in MoveScope from a\.csv"):
        import_references(db, again, file_name="b.csv")
    assert stored(db) == (1, 1, 2), "the new file's valid row was not imported either"
    # The same trial from another reference system is a different measurement.
    import_references(db, again, file_name="b.csv", system="Motion capture")
    assert reference_systems(db) == ["GAITRite", "Motion capture"]

    assert delete_reference_import(db, first.import_id) == 1
    import_references(db, again, file_name="b.csv")
    assert stored(db) == (2, 4, 8)
    newest_first = [a.action for a in audit_trail(db, table_name="reference_imports")]
    assert newest_first == ["import", "delete", "import", "import"]


def test_require_match_refuses_a_file_with_unmatched_rows(db, clinic):
    table = read_gaitrite_export(
        walkway([("P01", "baseline", 1, 121, 110), ("P01", "baseline", 7, 121, 110)])
    )
    with pytest.raises(ReferenceImportError, match="the visit has no gait analysis trial 7"):
        import_references(db, table, file_name="a.csv", require_match=True)
    assert stored(db) == (0, 0, 0)


def test_a_reference_system_needs_a_name(db, clinic):
    table = read_gaitrite_export(walkway([("P01", "baseline", 1, 121, 110)]))
    with pytest.raises(InputError, match="Name the reference system"):
        import_references(db, table, file_name="a.csv", system=" ")


def test_two_sessions_importing_the_same_file_at_once_import_it_once(db, clinic):
    table = read_gaitrite_export(walkway([("P01", "baseline", 1, 121, 110), ("P02", "week 6", 1, 86, 98)]))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            import_references(db, table, file_name="same.csv")
            outcomes.append("imported")
        except InputError:
            outcomes.append("refused")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["imported", "refused"]
    assert stored(db) == (1, 2, 4)
