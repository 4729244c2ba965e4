"""Alembic migrations up and down, and that they build exactly what the models describe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from registry_testkit import drop_pg_schema, new_pg_schema, require_postgres
from sqlalchemy import inspect

from ldn_derm.registry import migrate
from ldn_derm.registry.db import Database, make_engine
from ldn_derm.registry.errors import DatabaseNotReadyError
from ldn_derm.registry.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    require_postgres()
    schema, url = new_pg_schema()
    try:
        yield url
    finally:
        drop_pg_schema(schema)


def test_upgrade_builds_the_models_exactly_and_downgrade_removes_them(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        assert migrate.upgrade(empty_url, engine=engine) == migrate.head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        assert migrate.upgrade(empty_url, engine=engine) == migrate.head_revision()  # idempotent
        assert migrate.downgrade(empty_url, "base", engine=engine) is None
        assert not TABLES & set(inspect(engine).get_table_names())
        assert migrate.upgrade(empty_url, engine=engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_a_database_without_tables_says_to_run_the_upgrade(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    with pytest.raises(DatabaseNotReadyError, match="ldn db upgrade"), db.transaction():
        pass
    auto = Database(f"sqlite:///{tmp_path / 'auto.sqlite3'}", auto_create=True)
    with auto.transaction():
        pass
    assert migrate.current_revision(auto.engine) == migrate.head_revision()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.sqlite3'}"
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()
