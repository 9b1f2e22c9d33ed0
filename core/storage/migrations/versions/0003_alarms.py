"""Fall alarms, their delivery and their acknowledgement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column(
            "analysis_id", sa.Integer(), sa.ForeignKey("analyses.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("patient", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("recording_time_s", sa.Float()),
        sa.Column("input_sha256", sa.String(64)),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("snapshot_path", sa.String(512)),
        sa.Column("delivery", sa.JSON()),
        sa.Column("acknowledged_at", sa.DateTime()),
        sa.Column("acknowledged_by", sa.String(120)),
        sa.Column("note", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_alarms_analysis_id", "alarms", ["analysis_id"])
    op.create_index("ix_alarms_patient_id", "alarms", ["patient_id"])
    op.create_index("ix_alarms_input_sha256", "alarms", ["input_sha256"])


def downgrade() -> None:
    op.drop_table("alarms")
