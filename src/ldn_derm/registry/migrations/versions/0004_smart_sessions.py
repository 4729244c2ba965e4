"""The SMART App Launch sessions table under migrations.

Until now the web app created it at start-up with `create_all`; a database that already has it
keeps it as it is.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "smart_sessions" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "smart_sessions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_smart_sessions")),
    )


def downgrade() -> None:
    op.drop_table("smart_sessions")
