"""Alembic migrations up and down, and that they build exactly what the models describe."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from registry_testkit import drop_pg_schema, new_pg_schema, require_postgres
from sqlalchemy import inspect, select

from ldn_derm.registry import migrate
from ldn_derm.registry.db import Database, make_engine
from ldn_derm.registry.errors import DatabaseNotReadyError
from ldn_derm.registry.models import CDS_TABLES, Base, cds_feedback, cds_jwt_replay

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


def test_the_cds_tables_are_part_of_the_migrated_schema(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate.upgrade(empty_url, "0002", engine=engine)
        assert not set(CDS_TABLES) & set(inspect(engine).get_table_names())
        migrate.upgrade(empty_url, engine=engine)
        assert set(CDS_TABLES) <= set(inspect(engine).get_table_names())
        migrate.downgrade(empty_url, "0002", engine=engine)
        assert not set(CDS_TABLES) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_cds_tables_made_at_start_up_by_an_older_release_are_adopted(empty_url: str) -> None:
    """Older releases created the CDS tables with create_all outside the migrations: the
    upgrade keeps them (and their rows) and the schema then matches the models."""
    engine = make_engine(empty_url)
    try:
        migrate.upgrade(empty_url, "0002", engine=engine)
        Base.metadata.create_all(engine, tables=[cds_jwt_replay, cds_feedback])
        with engine.begin() as conn:
            conn.execute(cds_jwt_replay.insert().values(token_key="k" * 32, expires_at=1))
        migrate.upgrade(empty_url, engine=engine)
        with engine.connect() as conn:
            assert conn.execute(select(cds_jwt_replay.c.token_key)).scalar() == "k" * 32
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_wal_stays_bounded_under_many_writes_with_busy_readers(tmp_path: Path) -> None:
    """Readers that always overlap keep SQLite's own (PASSIVE) checkpoints from resetting the
    WAL; the WAL keeper's TRUNCATE checkpoints bound it anyway."""
    import threading

    from ldn_derm.registry.db import WalKeeper

    url = f"sqlite:///{tmp_path / 'wal-load.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
    keeper = WalKeeper(tmp_path / "wal-load.sqlite3", truncate_over=512 * 1024, every_s=0.02)
    stop = threading.Event()

    def reader() -> None:
        conn = sqlite3.connect(tmp_path / "wal-load.sqlite3", isolation_level=None)
        while not stop.is_set():
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM blobs").fetchone()
            time.sleep(0.004)
            conn.execute("COMMIT")
        conn.close()

    def keep() -> None:
        while not stop.is_set():
            keeper.once()
            time.sleep(keeper.every_s)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    threads.append(threading.Thread(target=keep))
    for t in threads:
        t.start()
    largest = 0
    try:
        payload = b"x" * 8192
        for _ in range(2500):  # ~20 MB written through the WAL
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO blobs (data) VALUES (?)", (payload,))
            largest = max(largest, keeper.wal_bytes())
            time.sleep(0.001)  # requests are never back to back; a tight loop starves any lock
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        engine.dispose()
    assert keeper.truncations > 0
    assert largest < 8 * 1024 * 1024, f"the WAL grew to {largest / 1e6:.1f} MB"
