"""Every fall alarm MoveScope raises, how it reached people, and who acknowledged it - kept for good.

Clinical question: *was the ward told about this fall, when, by which channel, and who took charge?*
:func:`raise_alarm` stores the alarm *before* delivering it, so an alarm exists in the record even if the
process dies while a webhook is being retried; the delivery report (every channel's attempts and last
error) is stored with it when delivery ends (``delivery`` is ``None`` while pending). Raising the same
alarm of the same recording again (the page reruns, the CLI is run twice) returns the stored one and
delivers nothing. :func:`acknowledge_alarm` records who took charge and when, once. Saving a fall analysis
to a patient's record links its alarms to it in the same transaction (:func:`save_fall_analysis`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from core.alarms import AlarmConfig, DeliveryReport, FallAlarm, deliver_alarm
from core.errors import InputError
from core.storage import Alarm, Analysis, Database, Patient, Visit
from core.storage.records import AnalysisRecord, add_analysis, in_save_transaction
from core.storage.schema import utcnow

MAX_NAME_LENGTH = 120
# The same alarm of the same recording: same input, same moment (to the millisecond), same kind.
SAME_MOMENT_S = 1e-3


@dataclass(frozen=True)
class StoredAlarm:
    """An alarm as the database keeps it (a plain copy, safe to use after the session closed)."""

    id: int
    uid: str
    patient: str
    patient_id: int | None
    analysis_id: int | None
    source: str | None
    kind: str
    raised_at: datetime  # UTC, naive in the database
    recording_time_s: float | None
    input_sha256: str | None
    message: str
    snapshot_path: str | None
    delivery: dict | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def pending(self) -> bool:
        return self.delivery is None

    @property
    def delivered(self) -> bool:
        """Some channel reached someone (or none is configured, and the in-app banner is the alarm)."""
        return bool(self.delivery and self.delivery.get("delivered"))

    @classmethod
    def of(cls, row: Alarm) -> StoredAlarm:
        return cls(
            row.id,
            row.uid,
            row.patient,
            row.patient_id,
            row.analysis_id,
            row.source,
            row.kind,
            row.raised_at,
            row.recording_time_s,
            row.input_sha256,
            row.message,
            row.snapshot_path,
            row.delivery,
            row.acknowledged_at,
            row.acknowledged_by,
            row.note,
        )


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def store_alarm(
    db: Database,
    alarm: FallAlarm,
    *,
    patient_id: int | None = None,
    analysis_id: int | None = None,
    source: str | None = None,
    input_sha256: str | None = None,
) -> tuple[StoredAlarm, bool]:
    """Store ``alarm`` (delivery pending); returns it and whether it is new.

    An alarm of the same input at the same recording time and of the same kind is the same alarm: the
    stored one is returned and ``False`` says nothing new was stored.
    """
    with db.transaction() as session:
        if patient_id is not None and session.get(Patient, patient_id) is None:
            patient_id = None  # deleted meanwhile: the alarm still matters
        if input_sha256 is not None and alarm.recording_time_s is not None:
            existing = session.scalars(
                select(Alarm).where(
                    Alarm.input_sha256 == input_sha256,
                    Alarm.kind == alarm.kind,
                    Alarm.recording_time_s.between(
                        alarm.recording_time_s - SAME_MOMENT_S, alarm.recording_time_s + SAME_MOMENT_S
                    ),
                )
            ).first()
            if existing is not None:
                return StoredAlarm.of(existing), False
        row = Alarm(
            uid=alarm.id,
            patient_id=patient_id,
            analysis_id=analysis_id,
            patient=alarm.patient,
            source=source or alarm.camera,
            kind=alarm.kind,
            raised_at=_naive_utc(alarm.time),
            recording_time_s=alarm.recording_time_s,
            input_sha256=input_sha256,
            message=alarm.message or alarm.text(),
            snapshot_path=alarm.snapshot,
        )
        session.add(row)
        session.flush()
        return StoredAlarm.of(row), True


def record_delivery(db: Database, uid: str, report: DeliveryReport) -> StoredAlarm:
    """Store how delivery of alarm ``uid`` went."""
    with db.transaction() as session:
        row = _get(session, uid)
        row.delivery = report.to_dict()
        session.flush()
        return StoredAlarm.of(row)


def raise_alarm(
    db: Database,
    alarm: FallAlarm,
    config: AlarmConfig,
    *,
    patient_id: int | None = None,
    analysis_id: int | None = None,
    source: str | None = None,
    input_sha256: str | None = None,
    deliver: Callable[[FallAlarm, AlarmConfig], DeliveryReport] = deliver_alarm,
) -> StoredAlarm:
    """Store ``alarm``, deliver it on every configured channel, store the delivery report.

    A repeat of an alarm already stored (same input, moment and kind) is returned as stored, undelivered
    again. Delivery failures never raise: they are in the report.
    """
    stored, new = store_alarm(
        db, alarm, patient_id=patient_id, analysis_id=analysis_id, source=source, input_sha256=input_sha256
    )
    if not new:
        return stored
    return record_delivery(db, stored.uid, deliver(alarm, config))


def acknowledge_alarm(db: Database, uid: str, by: str, note: str | None = None) -> StoredAlarm:
    """Record that ``by`` took charge of alarm ``uid`` (now, UTC). An alarm is acknowledged once."""
    by = (by or "").strip()
    if not by:
        raise InputError("Enter your name to acknowledge the alarm.")
    if len(by) > MAX_NAME_LENGTH:
        raise InputError(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    with db.transaction() as session:
        row = _get(session, uid)
        if row.acknowledged_at is not None:
            raise InputError(
                f"This alarm was already acknowledged by {row.acknowledged_by} at "
                f"{row.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC."
            )
        row.acknowledged_at = utcnow()
        row.acknowledged_by = by
        row.note = (note or "").strip() or None
        session.flush()
        return StoredAlarm.of(row)


def _get(session, uid: str) -> Alarm:
    row = session.scalars(select(Alarm).where(Alarm.uid == uid)).first()
    if row is None:
        raise InputError("That alarm is not in the record (it may have been removed).")
    return row


def get_alarm(db: Database, uid: str) -> StoredAlarm | None:
    with db.reading() as session:
        row = session.scalars(select(Alarm).where(Alarm.uid == uid)).first()
        return None if row is None else StoredAlarm.of(row)


def list_alarms(
    db: Database,
    *,
    input_sha256: str | None = None,
    patient_id: int | None = None,
    analysis_id: int | None = None,
    unacknowledged: bool = False,
    limit: int = 200,
) -> list[StoredAlarm]:
    """Alarms, newest first, filtered by input, patient, analysis or acknowledgement."""
    query = select(Alarm)
    if input_sha256 is not None:
        query = query.where(Alarm.input_sha256 == input_sha256)
    if patient_id is not None:
        query = query.where(Alarm.patient_id == patient_id)
    if analysis_id is not None:
        query = query.where(Alarm.analysis_id == analysis_id)
    if unacknowledged:
        query = query.where(Alarm.acknowledged_at.is_(None))
    with db.reading() as session:
        rows = session.scalars(query.order_by(Alarm.raised_at.desc(), Alarm.id.desc()).limit(limit))
        return [StoredAlarm.of(r) for r in rows]


def save_fall_analysis(
    db: Database,
    record: AnalysisRecord,
    alarm_uids: list[str],
    *,
    visit_id: int | None = None,
    new_visit_of: int | None = None,
    visit_date: date | None = None,
    visit_label: str | None = None,
) -> int:
    """Save a fall analysis to a patient's record and link its alarms to it, in one transaction."""

    def work(session) -> int:
        analysis: Analysis = add_analysis(
            session,
            record,
            visit_id=visit_id,
            new_visit_of=new_visit_of,
            visit_date=visit_date,
            visit_label=visit_label,
        )
        patient_id = session.get(Visit, analysis.visit_id).patient_id
        for uid in alarm_uids:
            row = _get(session, uid)
            row.analysis_id = analysis.id
            row.patient_id = patient_id
        session.flush()
        return analysis.id

    return in_save_transaction(db, work)
