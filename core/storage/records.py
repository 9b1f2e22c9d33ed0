"""Patients, visits and stored analyses: the operations the pages and commands need, each one transaction.

Validation happens here, once, so every caller gets the same clear :class:`~core.errors.InputError` for a
duplicate patient code or an impossible birth year.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core.errors import InputError
from core.settings import settings
from core.storage import Analysis, Database, Patient, Result, Visit

SEXES = ("female", "male", "other")
MIN_BIRTH_YEAR = 1900
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 50.0, 250.0
MAX_CODE_LENGTH = 64


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
        visit = Visit(patient_id=patient_id, visit_date=visit_date, label=(label or "").strip() or None)
        session.add(visit)
        session.flush()
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
    """
    with db.transaction() as session:
        return add_analysis(
            session,
            record,
            visit_id=visit_id,
            new_visit_of=new_visit_of,
            visit_date=visit_date,
            visit_label=visit_label,
        ).id


def add_analysis(
    session,
    record: AnalysisRecord,
    *,
    visit_id: int | None = None,
    new_visit_of: int | None = None,
    visit_date: date | None = None,
    visit_label: str | None = None,
) -> Analysis:
    """:func:`save_analysis` inside a caller's transaction (to store more with it, e.g. its alarms)."""
    if visit_id is None:
        if new_visit_of is None or session.get(Patient, new_visit_of) is None:
            raise InputError("Choose an existing patient to save this analysis to")
        visit = Visit(
            patient_id=new_visit_of,
            visit_date=visit_date or date.today(),
            label=(visit_label or "").strip() or None,
        )
        session.add(visit)
        session.flush()
        visit_id = visit.id
    elif session.get(Visit, visit_id) is None:
        raise InputError("That visit no longer exists")
    trial = session.scalar(
        select(func.coalesce(func.max(Analysis.trial), 0)).where(
            Analysis.visit_id == visit_id, Analysis.kind == record.kind
        )
    )
    analysis = Analysis(
        visit_id=visit_id,
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
