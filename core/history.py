"""Has this patient's gait changed between visits by more than measurement noise? The patient's history.

For each gait parameter the history holds one value per visit - the mean of the visit's trials - in date
order, the change from the previous visit flagged when it exceeds the parameter's minimal detectable change
(:func:`core.agreement.flag_changes`), and the normative value for the patient's age at that visit and sex
(:func:`core.gait.norms.references`; the sources give means without a usable spread, so it is a line, not a
band).

The MDC comes from this clinic's own data, never from a guess. Every visit at which a patient walked at least
two gait trials gives one test-retest pair (its first two trials), pooled over all of the clinic's patients,
and :func:`core.agreement.mdc_from_test_retest` turns at least ``MIN_PAIRS_MDC`` such pairs into an MDC95
(``1.96 * sqrt(2) * SEM``, SEM from the pairs' two-way ANOVA). With fewer pairs the parameter carries the
sentence :data:`NO_MDC` and no change is flagged: an invented MDC would mislabel every visit.

What that MDC is, and is not. Two trials minutes apart contain the measurement's own noise and
stride-to-stride variation but not day-to-day variation, so it is a lower bound of the MDC between visits
on different days (more changes flagged than a between-day MDC would flag). It is also the MDC of a single
trial while a visit's value is the mean of its trials, whose noise is smaller (fewer flags). The two pull in
opposite directions; neither is corrected, and the page and the report say where the MDC came from.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from core.agreement import MIN_PAIRS_MDC, MdcEstimate, VisitChange, flag_changes, mdc_from_test_retest
from core.errors import InputError
from core.gait.norms import references
from core.reference import GAITRITE_PARAMETERS
from core.storage import Database
from core.storage.records import (
    TrialValues,
    analyses_of_patient,
    gait_trials,
    get_patient,
    visit_name,
    visits_of,
)

NO_MDC = "no MDC available: record two trials per visit"
"""Said instead of an MDC when the clinic has too few visits with two trials of a parameter."""


@dataclass(frozen=True)
class VisitValue:
    """One parameter at one visit: the mean of the visit's trials."""

    visit_id: int
    visit_date: date
    label: str | None
    value: float
    trials: int
    sd: float | None  # between the visit's trials (None with one trial)

    @property
    def name(self) -> str:
        return visit_name(self.visit_date, self.label)


@dataclass(frozen=True)
class ParameterHistory:
    parameter: str  # GAITRite name
    unit: str
    visits: tuple[VisitValue, ...]
    mdc: MdcEstimate | None
    mdc_note: str  # where the MDC came from, or NO_MDC with the count of pairs the clinic has
    changes: tuple[VisitChange, ...]  # visit i+1 against visit i; empty without an MDC
    norms: tuple[float | None, ...]  # normative value at each visit (age at that visit)
    norm_group: str | None
    norm_source: str | None

    @property
    def flagged(self) -> list[VisitChange]:
        return [c for c in self.changes if c.exceeds]


@dataclass(frozen=True)
class VisitEntry:
    """A visit on the timeline: every visit, with or without gait analyses."""

    id: int
    visit_date: date
    label: str | None
    analyses: int
    gait_trials: int

    @property
    def name(self) -> str:
        return visit_name(self.visit_date, self.label)


@dataclass(frozen=True)
class PatientHistory:
    patient_id: int
    code: str
    birth_year: int | None
    sex: str | None
    height_cm: float | None
    visits: tuple[VisitEntry, ...]
    parameters: dict[str, ParameterHistory]  # in GAITRite catalogue order

    @property
    def flags(self) -> list[tuple[str, VisitChange]]:
        """Every change beyond its parameter's MDC, as (parameter, change)."""
        return [(name, change) for name, p in self.parameters.items() for change in p.flagged]


def clinic_mdc(
    clinic_trials: Sequence[TrialValues], parameter: str, unit: str = ""
) -> tuple[MdcEstimate | None, str]:
    """The MDC95 of ``parameter`` from the clinic's repeated trials at one visit, and a sentence about it.

    Returns ``(None, sentence starting with NO_MDC)`` when fewer than ``MIN_PAIRS_MDC`` visits have two
    trials with a value, or when the pairs allow no estimate (for example all identical).
    """
    by_visit: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for trial in clinic_trials:
        value = trial.values.get(parameter)
        if value is not None and math.isfinite(value):
            by_visit[trial.visit_id].append((trial.trial, value))
    pairs = [sorted(values)[:2] for values in by_visit.values() if len(values) >= 2]
    if len(pairs) < MIN_PAIRS_MDC:
        return None, (
            f"{NO_MDC} (the clinic has {len(pairs)} visit{'s' if len(pairs) != 1 else ''} with two "
            f"{parameter} trials; {MIN_PAIRS_MDC} are needed)"
        )
    test, retest = [p[0][1] for p in pairs], [p[1][1] for p in pairs]
    try:
        estimate = mdc_from_test_retest(test, retest, parameter=parameter, unit=unit)
    except InputError as refused:
        return None, f"{NO_MDC} ({refused})"
    return estimate, (
        f"MDC95 {estimate.mdc95:.3g} {unit} from this clinic's first two trials at {estimate.n} visits "
        "(SEM = sqrt(MSE), MDC95 = 1.96 x sqrt(2) x SEM; same-visit trials, so it leaves out day-to-day "
        "variation)"
    )


def parameter_history(
    parameter: str,
    trials: Sequence[TrialValues],
    clinic_trials: Sequence[TrialValues],
    *,
    birth_year: int | None = None,
    sex: str | None = None,
    against: Literal["previous", "baseline"] = "previous",
) -> ParameterHistory | None:
    """One parameter of one patient across visits (``trials``: the patient's; ``clinic_trials``: everyone's,
    for the MDC). ``None`` when no visit has a value."""
    by_visit: dict[int, list[float]] = defaultdict(list)
    visit_of: dict[int, TrialValues] = {}
    unit = ""
    for trial in trials:
        value = trial.values.get(parameter)
        if value is not None and math.isfinite(value):
            by_visit[trial.visit_id].append(value)
            visit_of.setdefault(trial.visit_id, trial)
            unit = unit or trial.units.get(parameter, "")
    if not by_visit:
        return None
    unit = unit or (GAITRITE_PARAMETERS[parameter].unit if parameter in GAITRITE_PARAMETERS else "")
    visits = tuple(
        sorted(
            (
                VisitValue(
                    visit_id=visit_id,
                    visit_date=visit_of[visit_id].visit_date,
                    label=visit_of[visit_id].visit_label,
                    value=statistics.fmean(values),
                    trials=len(values),
                    sd=statistics.stdev(values) if len(values) > 1 else None,
                )
                for visit_id, values in by_visit.items()
            ),
            key=lambda v: (v.visit_date, v.visit_id),
        )
    )
    mdc, note = clinic_mdc(clinic_trials, parameter, unit)
    changes = (
        tuple(flag_changes([(v.name, v.value) for v in visits], mdc.mdc95, against=against)) if mdc else ()
    )
    norms, group, source = [], None, None
    for visit in visits:
        age = visit.visit_date.year - birth_year if birth_year else None
        norm = references(age, sex).get(parameter)
        norms.append(norm.value if norm else None)
        if norm is not None:
            group, source = norm.group, norm.source
    return ParameterHistory(parameter, unit, visits, mdc, note, changes, tuple(norms), group, source)


def patient_history(
    db: Database, patient_id: int, *, against: Literal["previous", "baseline"] = "previous"
) -> PatientHistory:
    """The whole history of one patient: visits for the timeline and every measured parameter's series."""
    patient = get_patient(db, patient_id)
    if patient is None:
        raise InputError("That patient no longer exists")
    clinic = gait_trials(db)
    own = [t for t in clinic if t.patient_id == patient_id]
    analyses = defaultdict(int)
    for summary in analyses_of_patient(db, patient_id):
        analyses[summary.visit_id] += 1
    gait_per_visit = defaultdict(int)
    for trial in own:
        gait_per_visit[trial.visit_id] += 1
    visits = tuple(
        VisitEntry(v.id, v.visit_date, v.label, analyses[v.id], gait_per_visit[v.id])
        for v in visits_of(db, patient_id)
    )
    measured = {name for t in own for name in t.values}
    order = [n for n in GAITRITE_PARAMETERS if n in measured] + sorted(measured - set(GAITRITE_PARAMETERS))
    parameters = {}
    for name in order:
        history = parameter_history(
            name, own, clinic, birth_year=patient.birth_year, sex=patient.sex, against=against
        )
        if history is not None:
            parameters[name] = history
    return PatientHistory(
        patient.id, patient.code, patient.birth_year, patient.sex, patient.height_cm, visits, parameters
    )
