"""A patient's history: one value per visit, a change flagged only beyond an MDC the clinic's own repeated
trials support, and a sentence instead of an MDC when they do not."""

from __future__ import annotations

import statistics
from datetime import date

import pytest

from core.agreement import MIN_PAIRS_MDC, Z_95
from core.history import NO_MDC, patient_history
from tests.clinic import patient_with_visits

# Test-retest differences (trial 2 - trial 1, cm/s) of the clinic's other patients, one visit each.
RETEST_DIFFERENCES = [1.5, -2.0, 0.5, 3.0, -1.0, 2.5, -3.5, 0.0, 1.0, -1.5, 2.0, -0.5]


def add_retest_visits(db, differences: list[float]) -> None:
    for i, difference in enumerate(differences):
        base = 90.0 + 4 * i  # patients walk at different speeds: the ICC behind the MDC is meaningful
        trials = [{"Velocity": base}, {"Velocity": base + difference}]
        patient_with_visits(db, f"RETEST-{i:02d}", [(date(2026, 1, 10), None, trials)])


def history_patient(db) -> int:
    """Born 1950, female: baseline 100 cm/s, +4 at 6 weeks, then +16 at 3 months."""
    return patient_with_visits(
        db,
        "HIST-1",
        [
            (date(2026, 1, 5), "baseline", [{"Velocity": 99.0, "Cadence": 100.0}, {"Velocity": 101.0}]),
            (date(2026, 2, 16), "6 weeks", [{"Velocity": 104.0, "Cadence": 101.0}]),
            (date(2026, 4, 6), "3 months", [{"Velocity": 118.0}, {"Velocity": 122.0}]),
        ],
        birth_year=1950,
        sex="female",
    )


def test_a_change_beyond_the_clinics_mdc_is_flagged_and_a_smaller_one_is_not(db):
    add_retest_visits(db, RETEST_DIFFERENCES)
    patient_id = history_patient(db)
    velocity = patient_history(db, patient_id).parameters["Velocity"]

    assert [(v.name, v.value, v.trials) for v in velocity.visits] == [
        ("2026-01-05 baseline", 100.0, 2),
        ("2026-02-16 6 weeks", 104.0, 1),
        ("2026-04-06 3 months", 120.0, 2),
    ]
    # Two sessions: SEM = SD(differences) / sqrt(2), so MDC95 = 1.96 * SD(differences). The patient's own
    # two-trial visits count too (differences +2 and +4).
    expected = Z_95 * statistics.stdev([*RETEST_DIFFERENCES, 2.0, 4.0])
    assert velocity.mdc is not None and velocity.mdc.n == len(RETEST_DIFFERENCES) + 2
    assert velocity.mdc.mdc95 == pytest.approx(expected, rel=1e-9)
    assert 3.5 < expected < 4.5 < 16, "the constructed history: +4 is within the MDC, +16 is beyond it"
    assert [(c.to_visit, c.change, c.exceeds) for c in velocity.changes] == [
        ("2026-02-16 6 weeks", 4.0, False),
        ("2026-04-06 3 months", 16.0, True),
    ]
    assert "this clinic's first two trials at 14 visits" in velocity.mdc_note
    assert velocity.norms == (113.2, 113.2, 113.2) and velocity.norm_group == "women 70-79"

    flags = patient_history(db, patient_id).flags
    assert [(name, c.to_visit) for name, c in flags] == [("Velocity", "2026-04-06 3 months")]


def test_without_enough_repeated_trials_there_is_no_mdc_and_no_flag(db):
    add_retest_visits(db, RETEST_DIFFERENCES[: MIN_PAIRS_MDC - 3])  # with the patient's 2: one pair short
    history = patient_history(db, history_patient(db))
    velocity = history.parameters["Velocity"]
    assert velocity.mdc is None and velocity.changes == ()
    assert velocity.mdc_note == f"{NO_MDC} (the clinic has 9 visits with two Velocity trials; 10 are needed)"
    cadence = history.parameters["Cadence"]
    assert cadence.mdc_note.startswith(NO_MDC) and "0 visits" in cadence.mdc_note
    assert history.flags == []


def test_changes_can_be_measured_from_the_baseline_and_visits_without_gait_are_on_the_timeline(db):
    add_retest_visits(db, RETEST_DIFFERENCES)
    patient_id = history_patient(db)
    from core.storage.records import add_visit

    add_visit(db, patient_id, date(2026, 5, 1), "phone call")
    history = patient_history(db, patient_id, against="baseline")
    assert [c.change for c in history.parameters["Velocity"].changes] == [4.0, 20.0]
    assert [(v.name, v.analyses, v.gait_trials) for v in history.visits][-1] == (
        "2026-05-01 phone call",
        0,
        0,
    )
    assert list(history.parameters) == ["Velocity", "Cadence"], "GAITRite catalogue order"
