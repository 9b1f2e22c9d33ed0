"""Database tables: patients, their visits, the analyses made at each visit and their results.

Patients are pseudonymous: a clinic-chosen code, optional birth year, sex and height (height calibrates
spatial gait parameters). Every analysis records what went in (file name, content hash), how it was made
(settings, model versions, timings) and its full JSON document; each reported parameter is also a row of
``results`` so trends across visits are one query. Schema changes go through Alembic migrations
(``core/storage/migrations``) so a clinic's database survives upgrades.
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
