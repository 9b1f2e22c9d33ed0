"""Reference measurements, the audit log and one trial number per visit.

- ``reference_imports``, ``reference_trials``, ``reference_values``: imported walkway / motion-capture
  measurements and the analysis each trial was matched to.
- ``audit_log``: edits, deletions and imports.
- ``analyses``: a unique index on (visit, kind, trial). Before it, two sessions saving to one visit at once
  could both number their analysis trial 2; such duplicates are renumbered here (the earliest keeps its
  number, later ones get the next free numbers) and each renumbering is written to the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64)),
        sa.Column("file_format", sa.String(64), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("conversions", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "reference_trials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "import_id",
            sa.Integer(),
            sa.ForeignKey("reference_imports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("visit_id", sa.Integer(), sa.ForeignKey("visits.id", ondelete="SET NULL")),
        sa.Column("analysis_id", sa.Integer(), sa.ForeignKey("analyses.id", ondelete="SET NULL")),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("visit", sa.String(120), nullable=False),
        sa.Column("visit_key", sa.String(120), nullable=False),
        sa.Column("trial", sa.String(64), nullable=False),
        sa.Column("trial_key", sa.String(64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "patient_id", "visit_key", "trial_key", "system", name="uq_reference_trials_trial"
        ),
    )
    for column in ("import_id", "patient_id", "visit_id", "analysis_id"):
        op.create_index(f"ix_reference_trials_{column}", "reference_trials", [column])
    op.create_table(
        "reference_values",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "trial_id",
            sa.Integer(),
            sa.ForeignKey("reference_trials.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(24), nullable=False),
        sa.UniqueConstraint("trial_id", "name"),
    )
    op.create_index("ix_reference_values_trial_id", "reference_values", ["trial_id"])
    audit = op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("row_id", sa.Integer()),
        sa.Column("summary", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    _renumber_duplicate_trials(audit)
    # An index rather than a table constraint: SQLite would rebuild the table for a constraint, and
    # dropping the old table would cascade into ``results``.
    op.create_index("uq_analyses_visit_kind_trial", "analyses", ["visit_id", "kind", "trial"], unique=True)


def _renumber_duplicate_trials(audit: sa.Table) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, visit_id, kind, trial FROM analyses ORDER BY visit_id, kind, created_at, id")
    ).all()
    groups: dict[tuple, list] = defaultdict(list)
    for row in rows:
        groups[(row.visit_id, row.kind)].append(row)
    now = datetime.now(UTC).replace(tzinfo=None)
    for (visit_id, kind), analyses in groups.items():
        seen: set[int] = set()
        next_free = max(a.trial for a in analyses) + 1
        for analysis in analyses:
            if analysis.trial not in seen:
                seen.add(analysis.trial)
                continue
            connection.execute(
                sa.text("UPDATE analyses SET trial = :trial WHERE id = :id"),
                {"trial": next_free, "id": analysis.id},
            )
            summary = {"visit_id": visit_id, "kind": kind, "trial": [analysis.trial, next_free]}
            connection.execute(
                audit.insert().values(
                    at=now, action="renumber", table_name="analyses", row_id=analysis.id, summary=summary
                )
            )
            next_free += 1


def downgrade() -> None:
    op.drop_index("uq_analyses_visit_kind_trial", table_name="analyses")
    op.drop_table("audit_log")
    op.drop_table("reference_values")
    op.drop_table("reference_trials")
    op.drop_table("reference_imports")
