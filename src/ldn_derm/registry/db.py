"""Engine and transactions: SQLite (WAL) by default, PostgreSQL (psycopg 3) when configured.

SQLite is tuned for a small multi-user server that must survive a crash:
- WAL journal (readers do not block the writer),
- synchronous=FULL (a committed transaction survives power loss, not just a process crash),
- foreign keys on, a generous busy timeout,
- every transaction starts with BEGIN IMMEDIATE. Every request writes (at least an audit
  record), so taking the write lock up front avoids the "database is locked" upgrade deadlock of
  two readers that both later want to write,
- a bounded WAL: SQLite's automatic checkpoints are PASSIVE and cannot reset the WAL while
  readers keep it busy, so under steady load it grows without end (165 MB was measured). A
  `WalKeeper` thread per database file checkpoints it every second (PASSIVE, never waits) and,
  once it is larger than WAL_TRUNCATE_BYTES, with TRUNCATE (waits briefly for readers, then
  empties the file); `journal_size_limit` trims the file after every reset too.

This is the one engine factory: the registry, the CDS tables (web/cds/store.py) and the command
line all get their engine from `make_engine`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ldn_derm.errors import InputError
from ldn_derm.registry.errors import DatabaseNotReadyError

ENV_URL = "LDN_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 15_000
WAL_TRUNCATE_BYTES = 16 * 1024 * 1024  # a WAL above this is checkpointed with TRUNCATE
WAL_CHECK_SECONDS = 1.0
WAL_TRUNCATE_WAIT_MS = 2_000  # how long a TRUNCATE checkpoint may wait for readers

log = logging.getLogger("ldn_derm.registry.db")


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'ldn.sqlite3'}"


def resolve_url(url: str | None = None, data_dir: Path | None = None) -> str:
    """Explicit URL > LDN_DATABASE_URL > SQLite file in the data folder (LDN_DATA_DIR or ./var)."""
    if url:
        return url
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    folder = data_dir or Path(os.environ.get("LDN_DATA_DIR", Path.cwd() / "var"))
    return default_sqlite_url(folder.resolve())


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception:
        raise InputError(f"database URL is not valid: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise InputError("the registry needs an SQLite file, not an in-memory database")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create the database folder {path.parent}: {exc.strerror or exc}"
            ) from None
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,  # a logged database error must not carry names or notes
        )
        _tune_sqlite(engine, path)
        return engine
    if backend == "postgresql":
        if parsed.drivername not in ("postgresql+psycopg", "postgresql"):
            raise InputError(
                f"use the psycopg 3 driver: postgresql+psycopg://... (got {parsed.drivername})"
            )
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    raise InputError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")


def _tune_sqlite(engine: Engine, path: Path | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute(f"PRAGMA journal_size_limit={WAL_TRUNCATE_BYTES}")
        cur.close()
        if path is not None:
            WalKeeper.ensure(path)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class WalKeeper:
    """Keeps one SQLite database's write-ahead log bounded (see the module docstring).

    One daemon thread per database file and process, started when the first connection to the
    file opens; it uses a connection of its own and stops once the WAL file is gone (SQLite
    removes it when the last connection closes).
    """

    _running: ClassVar[dict[Path, WalKeeper]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        path: Path,
        truncate_over: int = WAL_TRUNCATE_BYTES,
        every_s: float = WAL_CHECK_SECONDS,
    ) -> None:
        self.path = path
        self.wal = Path(f"{path}-wal")
        self.truncate_over = truncate_over
        self.every_s = every_s
        self.truncations = 0

    @classmethod
    def ensure(cls, path: Path) -> None:
        key = path.resolve()
        with cls._lock:
            if key in cls._running:
                return
            keeper = cls(key)
            cls._running[key] = keeper
        threading.Thread(target=keeper._run, name=f"wal-keeper {key.name}", daemon=True).start()

    def wal_bytes(self) -> int:
        try:
            return self.wal.stat().st_size
        except FileNotFoundError:
            return -1

    def check_once(self, conn: sqlite3.Connection) -> int:
        """One round: PASSIVE checkpoint, TRUNCATE when the WAL is over the limit. Returns the
        WAL's size afterwards (-1 when there is none)."""
        size = self.wal_bytes()
        if size > self.truncate_over:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                self.truncations += 1
        elif size > 0:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return self.wal_bytes()

    def once(self) -> int:
        """One round on a connection of its own, closed again at once (an idle keeper must not
        keep the WAL alive: SQLite removes it when the last connection closes)."""
        if self.wal_bytes() < 0:
            return -1
        conn = sqlite3.connect(self.path, timeout=WAL_TRUNCATE_WAIT_MS / 1000, isolation_level=None)
        try:
            return self.check_once(conn)
        finally:
            conn.close()

    def _run(self) -> None:
        key = self.path
        try:
            time.sleep(self.every_s)
            while self.once() >= 0:
                time.sleep(self.every_s)
        except Exception as exc:  # housekeeping must never take the server down
            log.warning("WAL checkpointing of %s stopped: %s", key.name, exc)
        finally:
            with self._lock:
                self._running.pop(key, None)


class Database:
    """An engine plus a session factory; `transaction()` is the unit of work.

    `auto_create=True` (the web app) builds the schema on first use when the database holds no
    registry at all, so a fresh install works at once. An existing schema is never migrated
    behind the operator's back: when it is older than this program, every use answers
    DatabaseNotReadyError ("run `ldn db upgrade`").
    """

    def __init__(self, url: str, auto_create: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.auto_create = auto_create
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._ready = False
        self._ready_lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        self.require_ready()
        with self._sessions.begin() as session:
            yield session

    def require_ready(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                self._check_schema()
                self._ready = True

    def _check_schema(self) -> None:
        from ldn_derm.registry import migrate

        head = migrate.head_revision()
        current = migrate.current_revision(self.engine)
        if current == head:
            return
        fresh = current is None and not inspect(self.engine).has_table("patients")
        if fresh and self.auto_create:
            migrate.upgrade(self.url, engine=self.engine)
            return
        where = f"the registry database at {redact(self.url)}"
        if current is None:
            raise DatabaseNotReadyError(f"{where} has no tables yet; run `ldn db upgrade` first")
        raise DatabaseNotReadyError(
            f"{where} is at schema revision {current}, this program needs {head}; "
            "back it up, then run `ldn db upgrade`"
        )

    def dispose(self) -> None:
        self.engine.dispose()
