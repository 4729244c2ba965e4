"""Run the registry's Alembic migrations from code (`ldn db upgrade`): no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ldn_derm.errors import InputError
from ldn_derm.registry.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


# Any fixed number: serialises concurrent migrations (several workers starting at once) on
# PostgreSQL. SQLite needs nothing: every transaction there starts with BEGIN IMMEDIATE.
_PG_MIGRATION_LOCK = 0x1D_4E_0001


def _run(engine: Engine, action: str, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        from alembic.util import CommandError

        try:
            if action == "upgrade":
                command.upgrade(cfg, revision)
            else:
                command.downgrade(cfg, revision)
        except CommandError as exc:  # an unknown or unreachable revision: the caller's input
            raise InputError(f"cannot {action} to revision '{revision}': {exc}") from None


def upgrade(url: str, revision: str = "head", engine: Engine | None = None) -> str | None:
    """Bring the schema up to `revision`; returns the revision the database is at afterwards."""
    eng = engine or make_engine(url)
    try:
        _run(eng, "upgrade", revision)
        return current_revision(eng)
    finally:
        if engine is None:
            eng.dispose()


def downgrade(url: str, revision: str, engine: Engine | None = None) -> str | None:
    eng = engine or make_engine(url)
    try:
        _run(eng, "downgrade", revision)
        return current_revision(eng)
    finally:
        if engine is None:
            eng.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
