"""Patients, visits, analyses and results.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("birth_year", sa.Integer()),
        sa.Column("sex", sa.String(16)),
        sa.Column("height_cm", sa.Float()),
        sa.Column("notes", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("label", sa.String(120)),
        sa.Column("notes", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_visits_patient_id", "visits", ["patient_id"])
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("visit_id", sa.Integer(), sa.ForeignKey("visits.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("trial", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("input_name", sa.String(255), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("input_path", sa.String(512)),
        sa.Column("annotated_path", sa.String(512)),
        sa.Column("patient_track_id", sa.Integer()),
        sa.Column("selection_manual", sa.Boolean(), nullable=False),
        sa.Column("quality_usable", sa.Boolean()),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_analyses_visit_id", "analyses", ["visit_id"])
    op.create_index("ix_analyses_input_sha256", "analyses", ["input_sha256"])
    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "analysis_id", sa.Integer(), sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("unit", sa.String(24), nullable=False),
        sa.Column("uncertainty", sa.Float()),
        sa.Column("n", sa.Integer()),
        sa.UniqueConstraint("analysis_id", "name"),
    )
    op.create_index("ix_results_analysis_id", "results", ["analysis_id"])


def downgrade() -> None:
    op.drop_table("results")
    op.drop_table("analyses")
    op.drop_table("visits")
    op.drop_table("patients")
