"""Patients, visits and stored analyses: the operations the pages and commands need, each one transaction.

Validation happens here, once, so every caller gets the same clear :class:`~core.errors.InputError` for a
duplicate patient code or an impossible birth year.

Edits and deletions write an audit row (:mod:`core.storage.audit`) in the same transaction. A deletion also
removes the stored videos no remaining analysis uses, after the commit (a patient's deletion must take
their videos with it). Saves and edits re-match the patient's reference measurements
(:func:`core.storage.references.refresh_matches`) in the same transaction, so a walkway trial imported
before its video was analysed is paired as soon as the analysis is saved.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.errors import InputError
from core.settings import settings
from core.storage import Analysis, Database, Patient, ReferenceTrial, Result, Visit
from core.storage.audit import write_audit
from core.storage.references import refresh_matches

T = TypeVar("T")

SEXES = ("female", "male", "other")
MIN_BIRTH_YEAR = 1900
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 50.0, 250.0
MAX_CODE_LENGTH = 64
SAVE_ATTEMPTS = 5
"""Tries of one save whose trial number another session took first. Saves to one visit queue on a lock (see
:func:`save_analysis`), so a clash is rare; each one means another save succeeded."""
TRIAL_INDEX = "uq_analyses_visit_kind_trial"


@dataclass(frozen=True)
class ResultRow:
    name: str
    value: float | None
    unit: str = ""
    uncertainty: float | None = None
    n: int | None = None


@dataclass
class AnalysisRecord:
    """Everything stored about one analysis (built by the pipeline's callers, saved atomically)."""

    kind: str
    input_name: str
    input_sha256: str
    document: dict
    settings: dict = field(default_factory=dict)
    model_versions: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    results: list[ResultRow] = field(default_factory=list)
    input_path: str | None = None
    annotated_path: str | None = None
    patient_track_id: int | None = None
    selection_manual: bool = False
    quality_usable: bool | None = None
    trial: int = 1


def _check_patient_fields(code: str, birth_year: int | None, sex: str | None, height_cm: float | None) -> str:
    code = (code or "").strip()
    problems = []
    if not code:
        problems.append("a patient code is required")
    elif len(code) > MAX_CODE_LENGTH:
        problems.append(f"the patient code is longer than {MAX_CODE_LENGTH} characters")
    if birth_year is not None and not (MIN_BIRTH_YEAR <= birth_year <= date.today().year):
        problems.append(f"birth year {birth_year} is not between {MIN_BIRTH_YEAR} and {date.today().year}")
    if sex is not None and sex not in SEXES:
        problems.append(f"sex must be one of {', '.join(SEXES)}")
    if height_cm is not None and not (MIN_HEIGHT_CM <= height_cm <= MAX_HEIGHT_CM):
        problems.append(f"height {height_cm:g} cm is not between {MIN_HEIGHT_CM:g} and {MAX_HEIGHT_CM:g} cm")
    if problems:
        message = "; ".join(problems)
        raise InputError(message[0].upper() + message[1:])
    return code


def create_patient(
    db: Database,
    code: str,
    birth_year: int | None = None,
    sex: str | None = None,
    height_cm: float | None = None,
    notes: str | None = None,
) -> Patient:
    code = _check_patient_fields(code, birth_year, sex, height_cm)
    try:
        with db.transaction() as session:
            patient = Patient(code=code, birth_year=birth_year, sex=sex, height_cm=height_cm, notes=notes)
            session.add(patient)
            session.flush()
    except IntegrityError as error:
        raise InputError(f"A patient with the code {code!r} already exists") from error
    return patient


def list_patients(db: Database) -> list[Patient]:
    with db.reading() as session:
        return list(session.scalars(select(Patient).order_by(Patient.code)))


def get_patient(db: Database, patient_id: int) -> Patient | None:
    with db.reading() as session:
        return session.get(Patient, patient_id)


def add_visit(db: Database, patient_id: int, visit_date: date, label: str | None = None) -> Visit:
    with db.transaction() as session:
        if session.get(Patient, patient_id) is None:
            raise InputError("That patient no longer exists")
        visit = Visit(patient_id=patient_id, visit_date=visit_date, label=_visit_label(label))
        session.add(visit)
        session.flush()
        refresh_matches(session, [patient_id])
    return visit


def visits_of(db: Database, patient_id: int) -> list[Visit]:
    with db.reading() as session:
        query = select(Visit).where(Visit.patient_id == patient_id).order_by(Visit.visit_date, Visit.id)
        return list(session.scalars(query))


def store_media(source: str | Path, sha256: str) -> str:
    """Keep a copy of an analysed input in the media folder; returns its name relative to that folder."""
    source = Path(source)
    name = f"{sha256}{source.suffix.lower()}"
    target = settings().media_dir / name
    if not target.exists():
        tmp = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return name


def media_path(name: str | None) -> Path | None:
    return settings().media_dir / name if name else None


def save_analysis(
    db: Database,
    record: AnalysisRecord,
    *,
    visit_id: int | None = None,
    new_visit_of: int | None = None,
    visit_date: date | None = None,
    visit_label: str | None = None,
) -> int:
    """Store the analysis and all its results in one transaction; returns the new analysis id.

    Pass ``visit_id`` for an existing visit, or ``new_visit_of`` (a patient id) to open a visit in the same
    transaction, so a failed save leaves neither an empty visit nor a partial analysis behind.

    The analysis gets the visit's next trial number. Saves to one visit are serialised (SQLite's write
    lock, taken at the start of the transaction; a row lock on the visit in PostgreSQL), so two sessions
    saving at once do not both pick the same number. Should they anyway, the unique (visit, kind, trial)
    index refuses the second, which runs again from the start: both analyses are kept, numbered apart.
    """
    args = (record, visit_id, new_visit_of, visit_date, visit_label)
    return in_save_transaction(db, lambda session: _insert_analysis(session, *args).id)


def in_save_transaction(db: Database, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction, again from the start if another session took its trial number."""
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            with db.transaction() as session:
                return work(session)
        except IntegrityError as error:
            if attempt == SAVE_ATTEMPTS or not _is_trial_clash(error):
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _is_trial_clash(error: IntegrityError) -> bool:
    text = str(error.orig)
    return TRIAL_INDEX in text or "analyses.trial" in text


def add_analysis(
    session: Session,
    record: AnalysisRecord,
    *,
    visit_id: int | None = None,
    new_visit_of: int | None = None,
    visit_date: date | None = None,
    visit_label: str | None = None,
) -> Analysis:
    """:func:`save_analysis` inside a caller's transaction (to store more with it, e.g. its alarms)."""
    return _insert_analysis(session, record, visit_id, new_visit_of, visit_date, visit_label)


def _insert_analysis(
    session: Session,
    record: AnalysisRecord,
    visit_id: int | None,
    new_visit_of: int | None,
    visit_date: date | None,
    visit_label: str | None,
) -> Analysis:
    if visit_id is None:
        if new_visit_of is None or session.get(Patient, new_visit_of) is None:
            raise InputError("Choose an existing patient to save this analysis to")
        visit = Visit(
            patient_id=new_visit_of, visit_date=visit_date or date.today(), label=_visit_label(visit_label)
        )
        session.add(visit)
        session.flush()
    else:
        # Row lock on the visit (PostgreSQL; SQLite's write lock is already held): saves to one visit queue.
        visit = session.get(Visit, visit_id, with_for_update=True)
        if visit is None:
            raise InputError("That visit no longer exists")
    trial = session.scalar(
        select(func.coalesce(func.max(Analysis.trial), 0)).where(
            Analysis.visit_id == visit.id, Analysis.kind == record.kind
        )
    )
    analysis = Analysis(
        visit_id=visit.id,
        kind=record.kind,
        trial=max(record.trial, int(trial) + 1),
        status="complete",
        input_name=record.input_name,
        input_sha256=record.input_sha256,
        input_path=record.input_path,
        annotated_path=record.annotated_path,
        patient_track_id=record.patient_track_id,
        selection_manual=record.selection_manual,
        quality_usable=record.quality_usable,
        settings=record.settings,
        model_versions=record.model_versions,
        timings=record.timings,
        document=record.document,
        results=[
            Result(name=r.name, value=r.value, unit=r.unit, uncertainty=r.uncertainty, n=r.n)
            for r in record.results
        ],
    )
    session.add(analysis)
    session.flush()
    refresh_matches(session, [visit.patient_id])
    return analysis


@dataclass(frozen=True)
class PatientOverview:
    id: int
    code: str
    birth_year: int | None
    sex: str | None
    height_cm: float | None
    visits: int
    analyses: int
    last_visit: date | None


def patient_overview(db: Database) -> list[PatientOverview]:
    """Every patient with counts of visits and analyses, for the patient list."""
    with db.reading() as session:
        visits = (
            select(
                Visit.patient_id, func.count(Visit.id).label("n"), func.max(Visit.visit_date).label("last")
            )
            .group_by(Visit.patient_id)
            .subquery()
        )
        analyses = (
            select(Visit.patient_id, func.count(Analysis.id).label("n"))
            .join(Analysis)
            .group_by(Visit.patient_id)
        ).subquery()
        rows = session.execute(
            select(Patient, visits.c.n, visits.c.last, analyses.c.n)
            .outerjoin(visits, visits.c.patient_id == Patient.id)
            .outerjoin(analyses, analyses.c.patient_id == Patient.id)
            .order_by(Patient.code)
        )
        return [
            PatientOverview(p.id, p.code, p.birth_year, p.sex, p.height_cm, nv or 0, na or 0, last)
            for p, nv, last, na in rows
        ]


@dataclass(frozen=True)
class AnalysisSummary:
    id: int
    kind: str
    trial: int
    patient_id: int
    patient_code: str
    visit_id: int
    visit_date: date
    visit_label: str | None
    input_name: str
    patient_track_id: int | None
    quality_usable: bool | None
    created_at: datetime
    results: dict[str, float | None]


def _summaries(session, query) -> list[AnalysisSummary]:
    rows = session.scalars(
        query.options(
            selectinload(Analysis.results), selectinload(Analysis.visit).selectinload(Visit.patient)
        )
    )
    return [
        AnalysisSummary(
            id=a.id,
            kind=a.kind,
            trial=a.trial,
            patient_id=a.visit.patient.id,
            patient_code=a.visit.patient.code,
            visit_id=a.visit.id,
            visit_date=a.visit.visit_date,
            visit_label=a.visit.label,
            input_name=a.input_name,
            patient_track_id=a.patient_track_id,
            quality_usable=a.quality_usable,
            created_at=a.created_at,
            results={r.name: r.value for r in a.results},
        )
        for a in rows
    ]


def recent_analyses(db: Database, limit: int = 20) -> list[AnalysisSummary]:
    with db.reading() as session:
        return _summaries(
            session, select(Analysis).order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(limit)
        )


def analyses_of_patient(db: Database, patient_id: int) -> list[AnalysisSummary]:
    with db.reading() as session:
        query = (
            select(Analysis)
            .join(Visit)
            .where(Visit.patient_id == patient_id)
            .order_by(Visit.visit_date, Analysis.created_at, Analysis.id)
        )
        return _summaries(session, query)


def get_analysis(db: Database, analysis_id: int) -> Analysis | None:
    with db.reading() as session:
        return session.get(Analysis, analysis_id, options=[selectinload(Analysis.results)])


# --- edits and deletions ---------------------------------------------------------------------------------


def update_patient(
    db: Database,
    patient_id: int,
    *,
    code: str,
    birth_year: int | None,
    sex: str | None,
    height_cm: float | None,
    notes: str | None = None,
    expected_updated_at: datetime | None = None,
) -> Patient:
    """Replace a patient's details (validated as on creation); the old and new values go to the audit log.

    Pass the ``updated_at`` the form was filled from as ``expected_updated_at``: when another session saved
    the patient in between, the edit is refused instead of silently overwriting theirs.
    """
    code = _check_patient_fields(code, birth_year, sex, height_cm)
    try:
        with db.transaction() as session:
            patient = session.get(Patient, patient_id, with_for_update=True)
            if patient is None:
                raise InputError("That patient no longer exists")
            if expected_updated_at is not None and patient.updated_at != expected_updated_at:
                raise InputError(
                    f"Patient {patient.code} was changed in another session since you opened it; "
                    "reload the page and make your change again"
                )
            new = {
                "code": code,
                "birth_year": birth_year,
                "sex": sex,
                "height_cm": height_cm,
                "notes": (notes or "").strip() or None,
            }
            changes = {k: [getattr(patient, k), v] for k, v in new.items() if getattr(patient, k) != v}
            if changes:
                for name, (_, value) in changes.items():
                    setattr(patient, name, value)
                write_audit(session, "update", "patients", patient.id, changes)
                session.flush()
    except IntegrityError as error:
        raise InputError(f"A patient with the code {code!r} already exists") from error
    return patient


@dataclass(frozen=True)
class Deletion:
    """What a deletion removed (the counts also go to the audit log)."""

    what: str  # e.g. "patient GAIT-001"
    visits: int = 0
    analyses: int = 0
    reference_trials: int = 0
    media_files_removed: int = 0

    def summary(self) -> str:
        parts = [
            f"{n} {one if n == 1 else many}"
            for n, one, many in (
                (self.visits, "visit", "visits"),
                (self.analyses, "analysis", "analyses"),
                (self.reference_trials, "reference trial", "reference trials"),
            )
            if n
        ]
        return f"Deleted {self.what}" + (f" with {', '.join(parts)}" if parts else "") + "."


def delete_patient(db: Database, patient_id: int, confirmation: str) -> Deletion:
    """Delete a patient with all visits, analyses, reference trials and stored videos.

    ``confirmation`` must be the patient's code, typed by the person deleting: a deletion cannot be undone.
    """
    with db.transaction() as session:
        patient = session.get(Patient, patient_id, options=[selectinload(Patient.visits)])
        if patient is None:
            raise InputError("That patient no longer exists")
        if (confirmation or "").strip() != patient.code:
            raise InputError(f"Type the patient's code, {patient.code}, to confirm the deletion")
        analyses = [a for v in patient.visits for a in v.analyses]
        references = session.scalar(
            select(func.count(ReferenceTrial.id)).where(ReferenceTrial.patient_id == patient.id)
        )
        deletion = Deletion(f"patient {patient.code}", len(patient.visits), len(analyses), references or 0)
        media = _media_names(analyses)
        write_audit(session, "delete", "patients", patient.id, _deletion_summary(deletion, code=patient.code))
        session.delete(patient)
    return replace(deletion, media_files_removed=_remove_unused_media(db, media))


def update_visit(
    db: Database, visit_id: int, *, visit_date: date, label: str | None, notes: str | None = None
) -> Visit:
    """Change a visit's date, label or notes (audited); reference trials follow the new date or label."""
    with db.transaction() as session:
        visit = session.get(Visit, visit_id, with_for_update=True)
        if visit is None:
            raise InputError("That visit no longer exists")
        new = {"visit_date": visit_date, "label": _visit_label(label), "notes": (notes or "").strip() or None}
        changes = {k: [getattr(visit, k), v] for k, v in new.items() if getattr(visit, k) != v}
        if changes:
            for name, (_, value) in changes.items():
                setattr(visit, name, value)
            write_audit(session, "update", "visits", visit.id, changes | {"patient_id": visit.patient_id})
            session.flush()
            refresh_matches(session, [visit.patient_id])
    return visit


def delete_visit(db: Database, visit_id: int) -> Deletion:
    """Delete a visit with its analyses and their stored videos (reference trials stay, unmatched)."""
    with db.transaction() as session:
        visit = session.get(Visit, visit_id, options=[selectinload(Visit.analyses)])
        if visit is None:
            raise InputError("That visit no longer exists")
        deletion = Deletion(f"the visit of {visit.visit_date:%Y-%m-%d}", analyses=len(visit.analyses))
        media = _media_names(visit.analyses)
        summary = _deletion_summary(deletion, patient_id=visit.patient_id, date=visit.visit_date)
        write_audit(session, "delete", "visits", visit.id, summary | {"label": visit.label})
        session.delete(visit)
    return replace(deletion, media_files_removed=_remove_unused_media(db, media))


def update_analysis(
    db: Database, analysis_id: int, *, visit_id: int | None = None, trial: int | None = None
) -> int:
    """Move an analysis to another visit of the same patient and/or give it another trial number.

    For when it was saved to the wrong visit, or its trial number should be the walkway's. Refused when the
    target visit already has that trial. Returns the analysis id; reference trials are re-matched.
    """
    with db.transaction() as session:
        analysis = session.get(Analysis, analysis_id, with_for_update=True)
        if analysis is None:
            raise InputError("That analysis no longer exists")
        source = session.get(Visit, analysis.visit_id)
        target = session.get(Visit, visit_id, with_for_update=True) if visit_id is not None else source
        if target is None or target.patient_id != source.patient_id:
            raise InputError("Choose a visit of the same patient")
        trial = analysis.trial if trial is None else int(trial)
        if trial < 1:
            raise InputError("A trial number is 1 or more")
        clash = session.scalar(
            select(Analysis.id).where(
                Analysis.visit_id == target.id,
                Analysis.kind == analysis.kind,
                Analysis.trial == trial,
                Analysis.id != analysis.id,
            )
        )
        if clash is not None:
            raise InputError(
                f"The visit of {target.visit_date:%Y-%m-%d} already has trial {trial} (analysis {clash})"
            )
        changes = {}
        if target.id != analysis.visit_id:
            changes["visit_id"] = [analysis.visit_id, target.id]
        if trial != analysis.trial:
            changes["trial"] = [analysis.trial, trial]
        if changes:
            analysis.visit_id, analysis.trial = target.id, trial
            write_audit(
                session, "update", "analyses", analysis.id, changes | {"patient_id": source.patient_id}
            )
            session.flush()
            refresh_matches(session, [source.patient_id])
        return analysis.id


def delete_analysis(db: Database, analysis_id: int) -> Deletion:
    """Delete one analysis with its results and its stored videos (when no other analysis uses them)."""
    with db.transaction() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None:
            raise InputError("That analysis no longer exists")
        deletion = Deletion(f"analysis {analysis.id} (trial {analysis.trial})", 0, 1)
        media = _media_names([analysis])
        summary = {
            "patient_id": analysis.visit.patient_id,
            "visit_id": analysis.visit_id,
            "kind": analysis.kind,
            "trial": analysis.trial,
        }
        write_audit(session, "delete", "analyses", analysis.id, summary | {"input_name": analysis.input_name})
        session.delete(analysis)
    return replace(deletion, media_files_removed=_remove_unused_media(db, media))


def _deletion_summary(deletion: Deletion, **extra) -> dict:
    counts = {
        "visits": deletion.visits,
        "analyses": deletion.analyses,
        "reference_trials": deletion.reference_trials,
    }
    return extra | {name: n for name, n in counts.items() if n}


def _media_names(analyses) -> set[str]:
    return {name for a in analyses for name in (a.input_path, a.annotated_path) if name}


def _remove_unused_media(db: Database, names: set[str]) -> int:
    """Remove stored videos that no analysis refers to any more (run after the deletion committed)."""
    if not names:
        return 0
    with db.reading() as session:
        used = set(session.scalars(select(Analysis.input_path).where(Analysis.input_path.in_(names))))
        used |= set(
            session.scalars(select(Analysis.annotated_path).where(Analysis.annotated_path.in_(names)))
        )
    removed = 0
    for name in names - used:
        path = media_path(name)
        if path is not None and path.is_file():
            path.unlink()
            removed += 1
    return removed


def visit_name(visit_date: date, label: str | None) -> str:
    """``2026-03-01 baseline``: how a visit is written in tables, choosers and flags."""
    return f"{visit_date:%Y-%m-%d} {label or ''}".strip()


def _visit_label(label: str | None) -> str | None:
    return (label or "").strip() or None


# --- what the history and the report read ----------------------------------------------------------------


@dataclass(frozen=True)
class TrialValues:
    """One stored gait analysis with its visit and its parameter values (units by name)."""

    analysis_id: int
    patient_id: int
    visit_id: int
    visit_date: date
    visit_label: str | None
    trial: int
    values: dict[str, float]
    units: dict[str, str]
    annotated_path: str | None


def gait_trials(db: Database, patient_id: int | None = None) -> list[TrialValues]:
    """Every stored gait analysis (of one patient, or of the whole clinic) in visit and trial order."""
    query = (
        select(Analysis, Visit)
        .join(Visit)
        .where(Analysis.kind == "gait")
        .options(selectinload(Analysis.results))
        .order_by(Visit.visit_date, Visit.id, Analysis.trial, Analysis.id)
    )
    if patient_id is not None:
        query = query.where(Visit.patient_id == patient_id)
    with db.reading() as session:
        return [
            TrialValues(
                analysis_id=a.id,
                patient_id=v.patient_id,
                visit_id=v.id,
                visit_date=v.visit_date,
                visit_label=v.label,
                trial=a.trial,
                values={r.name: r.value for r in a.results if r.value is not None},
                units={r.name: r.unit for r in a.results},
                annotated_path=a.annotated_path,
            )
            for a, v in session.execute(query)
        ]
