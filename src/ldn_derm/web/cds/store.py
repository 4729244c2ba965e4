"""The CDS tables: feedback from EHRs and the JWT `jti` replay cache.

Both live in the database so that every worker and host sees the same replay cache. The tables
are defined with the registry's models (`ldn_derm.registry.models`) and created by its Alembic
migrations; the engine comes from the one engine factory (`ldn_derm.registry.db.make_engine`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from ldn_derm.registry.models import cds_feedback, cds_jwt_replay

log = logging.getLogger("ldn_derm.web.cds")

__all__ = ["MemoryReplayCache", "ReplayCache", "feedback_rows", "save_feedback"]


class ReplayCache:
    """Remembers (iss, jti) until the token expires; a second use is a replay.

    This is on every CDS call, so it keeps one raw DB-API connection per process (guarded by
    a lock) and plain SQL: an insert and a commit, with no ORM or pool work per call.
    """

    BUSY_SECONDS = 10.0  # give up (500) if the database stays locked this long

    def __init__(self, engine: Engine, purge_every_seconds: float = 60.0) -> None:
        import threading

        self.engine = engine
        self.purge_every = purge_every_seconds
        self._last_purge = 0.0
        self._lock = threading.Lock()
        self._conn: Any = None
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        table = cds_jwt_replay.name
        self._sql_insert = f"INSERT INTO {table} (token_key, expires_at) VALUES ({mark}, {mark})"
        self._sql_reclaim = (
            f"UPDATE {table} SET expires_at = {mark} WHERE token_key = {mark} "
            f"AND expires_at < {mark}"
        )
        self._sql_purge = (
            f"DELETE FROM {table} WHERE token_key IN "
            f"(SELECT token_key FROM {table} WHERE expires_at < {mark} LIMIT 500)"
        )
        self._housekeeper: Any = None
        dbapi: Any = engine.dialect.dbapi
        self._integrity_error: type[Exception] = dbapi.IntegrityError
        self._operational_error: type[Exception] = dbapi.OperationalError
        self._sqlite = engine.dialect.name == "sqlite"

    def first_use(self, issuer: str, jti: str, expires_at: int) -> bool:
        import hashlib

        key = hashlib.sha256(f"{issuer}\x00{jti}".encode()).hexdigest()[:32]
        now = int(time.time())
        if self._housekeeper is None:
            self._start_housekeeping()
        with self._lock:
            try:
                return self._first_use(key, now, expires_at)
            except Exception:
                self._drop()
                raise

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self.engine.raw_connection()
            if self._sqlite:
                # SQLite's own busy handler sleeps in steps of 1-100 ms, with the event loop
                # blocked; with several workers writing, we retry in 0.1 ms steps instead.
                # Checkpoints (WAL -> database, with fsync) are left to the housekeeping
                # thread and the engine's WAL keeper (ldn_derm.registry.db), so that no request
                # pays for one. The replay cache alone commits without an fsync each
                # (synchronous=NORMAL: a power cut may forget the last few jti, never corrupt).
                cur = self._conn.cursor()
                cur.execute("PRAGMA busy_timeout=0")
                cur.execute("PRAGMA wal_autocheckpoint=0")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
        return self._conn

    def _first_use(self, key: str, now: int, expires_at: int) -> bool:
        deadline = time.monotonic() + self.BUSY_SECONDS
        pause = 0.0001
        while True:
            conn = self._connection()
            cur = conn.cursor()
            try:
                try:
                    cur.execute(self._sql_insert, (key, expires_at))
                    conn.commit()
                    return True
                except self._integrity_error:
                    conn.rollback()
                # seen before: only fine if that entry has expired (one winner if racing)
                cur.execute(self._sql_reclaim, (expires_at, key, now))
                conn.commit()
                return bool(cur.rowcount == 1)
            except self._operational_error as exc:
                conn.rollback()
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not (self._sqlite and busy) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.002)
            finally:
                cur.close()

    def _start_housekeeping(self) -> None:
        """A daemon thread: checkpoint the WAL every second (SQLite) and purge expired entries
        every `purge_every` seconds in small batches (short write locks)."""
        import threading

        with self._lock:
            if self._housekeeper is not None:
                return
            self._housekeeper = threading.Thread(
                target=self._housekeeping, name="jti-housekeeping", daemon=True
            )
            self._housekeeper.start()

    def _housekeeping(self) -> None:
        while True:
            time.sleep(1.0)
            try:
                self.housekeep_once()
            except Exception as exc:  # housekeeping must never die
                log.warning("jti replay-cache housekeeping failed: %s", exc)

    def housekeep_once(self) -> int:
        """Purge expired entries (when due) and checkpoint the WAL; returns rows purged."""
        purged = 0
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            now = time.time()
            if now - self._last_purge > self.purge_every:
                self._last_purge = now
                while True:
                    cur.execute(self._sql_purge, (int(now),))
                    conn.commit()
                    purged += max(cur.rowcount, 0)
                    if cur.rowcount < 500:
                        break
            if self._sqlite:
                cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cur.close()
        finally:
            conn.close()
        return purged

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it is being thrown away anyway
                conn.invalidate()


class MemoryReplayCache:
    """Per-process replay cache: faster, but each worker sees only its own tokens, so a
    token replayed to another worker or host is not caught. Use only with one worker."""

    def __init__(self) -> None:
        import threading

        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._last_purge = 0.0

    def first_use(self, issuer: str, jti: str, expires_at: int) -> bool:
        now = time.time()
        with self._lock:
            if now - self._last_purge > 60:
                self._last_purge = now
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
            previous = self._seen.get((issuer, jti))
            if previous is not None and previous >= now:
                return False
            self._seen[(issuer, jti)] = expires_at
            return True


def save_feedback(
    engine: Engine, service_id: str, items: list[dict[str, Any]], issuer: str | None
) -> int:
    import orjson

    now = datetime.now(UTC)
    rows = []
    for item in items:
        reason = (item.get("overrideReason") or {}).get("reason") or {}
        accepted = [s["id"] for s in item.get("acceptedSuggestions") or []]
        rows.append(
            {
                "service_id": service_id,
                "card_uuid": item["card"],
                "outcome": item["outcome"],
                "accepted_suggestions": orjson.dumps(accepted).decode() if accepted else None,
                "override_reason_system": reason.get("system"),
                "override_reason_code": reason.get("code"),
                "override_reason_display": reason.get("display"),
                "user_comment": (item.get("overrideReason") or {}).get("userComment"),
                "outcome_timestamp": item["outcomeTimestamp"],
                "received_at": now,
                "issuer": issuer,
            }
        )
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(cds_feedback), rows)
    return len(rows)


def feedback_rows(engine: Engine, service_id: str | None = None) -> list[dict[str, Any]]:
    query = select(cds_feedback).order_by(cds_feedback.c.id)
    if service_id:
        query = query.where(cds_feedback.c.service_id == service_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
