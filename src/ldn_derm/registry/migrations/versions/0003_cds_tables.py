"""The CDS Hooks tables (feedback, JWT replay cache) under migrations.

Until now the web app created them at start-up with `create_all`; a database that already has
them (from such a start) keeps them as they are, and the migration only records that they now
belong to the schema.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "cds_feedback" not in existing:
        op.create_table(
            "cds_feedback",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("service_id", sa.String(length=100), nullable=False),
            sa.Column("card_uuid", sa.String(length=100), nullable=False),
            sa.Column("outcome", sa.String(length=20), nullable=False),
            sa.Column("accepted_suggestions", sa.Text(), nullable=True),
            sa.Column("override_reason_system", sa.String(length=300), nullable=True),
            sa.Column("override_reason_code", sa.String(length=100), nullable=True),
            sa.Column("override_reason_display", sa.String(length=300), nullable=True),
            sa.Column("user_comment", sa.Text(), nullable=True),
            sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("issuer", sa.String(length=300), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_feedback")),
        )
        op.create_index(
            op.f("ix_cds_feedback_service_id"), "cds_feedback", ["service_id"], unique=False
        )
        op.create_index(
            op.f("ix_cds_feedback_card_uuid"), "cds_feedback", ["card_uuid"], unique=False
        )
    if "cds_jwt_replay" not in existing:
        op.create_table(
            "cds_jwt_replay",
            sa.Column("token_key", sa.String(length=32), nullable=False),
            sa.Column("expires_at", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("token_key", name=op.f("pk_cds_jwt_replay")),
            sqlite_with_rowid=False,
        )


def downgrade() -> None:
    op.drop_table("cds_jwt_replay")
    op.drop_index(op.f("ix_cds_feedback_card_uuid"), table_name="cds_feedback")
    op.drop_index(op.f("ix_cds_feedback_service_id"), table_name="cds_feedback")
    op.drop_table("cds_feedback")
