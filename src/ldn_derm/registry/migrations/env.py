"""Alembic environment: runs on the connection handed in by ldn_derm.registry.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ldn_derm.registry.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # pragma: no cover - we always pass a connection
        raise RuntimeError("ldn_derm.registry.migrate passes the connection; run it from there")
    _run(connection)


if context.is_offline_mode():  # pragma: no cover
    raise RuntimeError("offline (SQL script) migrations are not supported")
run()
