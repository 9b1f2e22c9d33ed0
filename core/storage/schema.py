"""Database tables: patients, their visits, the analyses made at each visit and their results.

Patients are pseudonymous: a clinic-chosen code, optional birth year, sex and height (height calibrates
spatial gait parameters). Every analysis records what went in (file name, content hash), how it was made
(settings, model versions, timings) and its full JSON document; each reported parameter is also a row of
``results`` so trends across visits are one query. Schema changes go through Alembic migrations
(``core/storage/migrations``) so a clinic's database survives upgrades.

Reference measurements (a GAITRite walkway's or a motion-capture lab's values for the same trials) are kept
per import: a :class:`ReferenceImport` holds the file and its column mapping, each :class:`ReferenceTrial` one
row of it (patient, visit and trial as written, and the analysis it was matched to), each
:class:`ReferenceValue` one parameter of that row. :class:`AuditEntry` rows record every edit, deletion and
import, in the transaction that made it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(16))
    height_cm: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)

    visits: Mapped[list[Visit]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Visit.visit_date"
    )


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    visit_date: Mapped[date] = mapped_column(Date, nullable=False)
    label: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    patient: Mapped[Patient] = relationship(back_populates="visits")
    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="Analysis.created_at"
    )


class Analysis(Base):
    __tablename__ = "analyses"
    # One trial number per kind and visit: reference rows are matched to analyses by it (migration 0002).
    __table_args__ = (Index("uq_analyses_visit_kind_trial", "visit_id", "kind", "trial", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # gait, fall, spine
    trial: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="complete")
    input_name: Mapped[str] = mapped_column(String(255), nullable=False)
    input_sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    input_path: Mapped[str | None] = mapped_column(String(512))  # stored copy, relative to the media folder
    annotated_path: Mapped[str | None] = mapped_column(String(512))
    patient_track_id: Mapped[int | None] = mapped_column(Integer)
    selection_manual: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    quality_usable: Mapped[bool | None] = mapped_column(Boolean)
    settings: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    model_versions: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    timings: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    document: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    visit: Mapped[Visit] = relationship(back_populates="analyses")
    results: Mapped[list[Result]] = relationship(
        back_populates="analysis", cascade="all, delete-orphan", order_by="Result.id"
    )


class Result(Base):
    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("analysis_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)  # GAITRite name, e.g. "Velocity"
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(24), nullable=False, default="")
    uncertainty: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int | None] = mapped_column(Integer)  # strides (or events) the value rests on

    analysis: Mapped[Analysis] = relationship(back_populates="results")


class ReferenceImport(Base):
    """One imported reference file: where it came from and how its columns were read."""

    __tablename__ = "reference_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(64), nullable=False)  # reference system, e.g. "GAITRite"
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_format: Mapped[str] = mapped_column(String(64), nullable=False)  # ReferenceTable.source
    mapping: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    conversions: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    trials: Mapped[list[ReferenceTrial]] = relationship(
        back_populates="reference_import", cascade="all, delete-orphan", order_by="ReferenceTrial.line"
    )


class ReferenceTrial(Base):
    """One row of a reference file: a trial of a patient at a visit, matched to an analysis when possible."""

    __tablename__ = "reference_trials"
    # A reference system measures a trial once; a second import of it is refused, not merged.
    __table_args__ = (
        UniqueConstraint("patient_id", "visit_key", "trial_key", "system", name="uq_reference_trials_trial"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("reference_imports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Kept when the visit or the analysis is deleted: the walkway's measurement is still the clinic's data.
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    analysis_id: Mapped[int | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL"), index=True
    )
    system: Mapped[str] = mapped_column(String(64), nullable=False)
    visit: Mapped[str] = mapped_column(String(120), nullable=False)  # ISO date or label, as in the file
    visit_key: Mapped[str] = mapped_column(String(120), nullable=False)  # core.reference.trial_key parts
    trial: Mapped[str] = mapped_column(String(64), nullable=False)
    trial_key: Mapped[str] = mapped_column(String(64), nullable=False)
    line: Mapped[int] = mapped_column(Integer, nullable=False)  # line in the file (header = 1)

    reference_import: Mapped[ReferenceImport] = relationship(back_populates="trials")
    values: Mapped[list[ReferenceValue]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="ReferenceValue.id"
    )


class ReferenceValue(Base):
    __tablename__ = "reference_values"
    __table_args__ = (UniqueConstraint("trial_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(
        ForeignKey("reference_trials.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)  # GAITRite name
    value: Mapped[float] = mapped_column(Float, nullable=False)  # in MoveScope's unit for the name
    unit: Mapped[str] = mapped_column(String(24), nullable=False)

    trial: Mapped[ReferenceTrial] = relationship(back_populates="values")


class AuditEntry(Base):
    """Who changed what is not known (MoveScope has no login); what changed and when is."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(32), nullable=False)  # update, delete, import, match, ...
    table_name: Mapped[str] = mapped_column(String(40), nullable=False)
    row_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)


class Alarm(Base):
    """A fall alarm MoveScope raised: what, about whom, how it was delivered, and who acknowledged it."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)  # core.alarms.FallAlarm.id
    analysis_id: Mapped[int | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"), index=True)
    patient: Mapped[str] = mapped_column(String(255), nullable=False)  # as named in the alarm
    source: Mapped[str | None] = mapped_column(String(255))  # camera or input file
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    raised_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # UTC
    recording_time_s: Mapped[float | None] = mapped_column(Float)
    input_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    snapshot_path: Mapped[str | None] = mapped_column(String(512))  # relative to the media folder
    delivery: Mapped[dict | None] = mapped_column(JSON)  # core.alarms.DeliveryReport.to_dict(); None: pending
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
