"""What was changed in the record, and when: the audit log a clinic shows when asked who altered a chart.

Every edit, deletion and reference import writes one :class:`~core.storage.schema.AuditEntry` in the same
transaction as the change itself, so the log never claims a change that was rolled back and never misses one
that was kept. The summary holds what the change was (old and new values of an edit, counts of what a
deletion removed, the file of an import) as JSON. MoveScope has no login, so the log says what and when,
not who.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.storage import AuditEntry, Database

AUDIT_ROWS_SHOWN = 200
PATIENT_AUDIT_SCAN = 5000  # a patient's changes are looked for among the clinic's latest changes


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    action: str
    table_name: str
    row_id: int | None
    summary: dict


def write_audit(session: Session, action: str, table_name: str, row_id: int | None, summary: dict) -> None:
    """Add an audit row to ``session``'s transaction (committed or rolled back with the change)."""
    session.add(AuditEntry(action=action, table_name=table_name, row_id=row_id, summary=_jsonable(summary)))


def audit_trail(
    db: Database, *, table_name: str | None = None, row_id: int | None = None, limit: int = AUDIT_ROWS_SHOWN
) -> list[AuditRecord]:
    """The latest audit rows, newest first, optionally of one table (and one row of it)."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if table_name is not None:
        query = query.where(AuditEntry.table_name == table_name)
    if row_id is not None:
        query = query.where(AuditEntry.row_id == row_id)
    with db.reading() as session:
        entries = session.scalars(query)
        return [AuditRecord(e.at, e.action, e.table_name, e.row_id, dict(e.summary)) for e in entries]


def patient_audit(db: Database, patient_id: int, limit: int = AUDIT_ROWS_SHOWN) -> list[AuditRecord]:
    """The audit rows about one patient: edits of the patient, and of their visits and analyses (whose
    summaries carry the ``patient_id``), newest first, from the latest ``PATIENT_AUDIT_SCAN`` rows."""
    return [
        e
        for e in audit_trail(db, limit=PATIENT_AUDIT_SCAN)
        if (e.table_name == "patients" and e.row_id == patient_id)
        or e.summary.get("patient_id") == patient_id
    ][:limit]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
