"""Server-side SMART sessions: the browser holds only a random id in an HttpOnly cookie.

Access and refresh tokens, the PKCE verifier and the pending `state` values live in the
`smart_sessions` table of the app's database (shared by every worker and host), keyed by a
SHA-256 hash of the cookie value, and are deleted when the session expires. Nothing from a
session is ever logged or written into a page.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Engine

# defined with the registry's models, created by its Alembic migrations (0004)
from ldn_derm.registry.models import smart_sessions

COOKIE = "ldn_smart_session"
MAX_PENDING = 5  # launches started in one browser session and not yet called back


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_session(engine: Engine, data: dict[str, Any], lifetime_s: int) -> str:
    """Store `data` under a new random id (returned, for the cookie only)."""
    session_id = secrets.token_urlsafe(32)
    now = int(time.time())
    with engine.begin() as conn:
        conn.execute(delete(smart_sessions).where(smart_sessions.c.expires_at < now))
        conn.execute(
            insert(smart_sessions).values(
                key=_key(session_id), expires_at=now + lifetime_s, data=orjson.dumps(data).decode()
            )
        )
    return session_id


def load_session(engine: Engine, session_id: str | None) -> dict[str, Any] | None:
    """The session's data, or None when there is none or it has expired (then it is deleted)."""
    if not session_id or len(session_id) > 200:
        return None
    key = _key(session_id)
    with engine.begin() as conn:
        row = conn.execute(
            select(smart_sessions.c.expires_at, smart_sessions.c.data).where(
                smart_sessions.c.key == key
            )
        ).first()
        if row is None:
            return None
        if row.expires_at < time.time():
            conn.execute(delete(smart_sessions).where(smart_sessions.c.key == key))
            return None
    data = orjson.loads(row.data)
    return data if isinstance(data, dict) else None


def update_session(
    engine: Engine,
    session_id: str | None,
    change: Callable[[dict[str, Any]], None],
    lifetime_s: int | None = None,
) -> bool:
    """Apply `change` to the session's data in one transaction that holds the row's write lock
    from the start (a no-op UPDATE first), so that two requests changing one session (two
    launches called back at once in two tabs) wait for each other instead of the last write
    dropping the other's change. With `lifetime_s` the session is renewed from now. False when
    there is no such live session."""
    if not session_id or len(session_id) > 200:
        return False
    key = _key(session_id)
    where = smart_sessions.c.key == key
    with engine.begin() as conn:
        if conn.execute(sql_update(smart_sessions).where(where).values(key=key)).rowcount == 0:
            return False
        row = conn.execute(
            select(smart_sessions.c.expires_at, smart_sessions.c.data).where(where)
        ).first()
        if row is None or row.expires_at < time.time():
            return False
        data = orjson.loads(row.data)
        if not isinstance(data, dict):
            return False
        change(data)
        values: dict[str, Any] = {"data": orjson.dumps(data).decode()}
        if lifetime_s is not None:
            values["expires_at"] = int(time.time()) + lifetime_s
        conn.execute(sql_update(smart_sessions).where(where).values(**values))
    return True


def take_pending(engine: Engine, session_id: str | None, state: str) -> dict[str, Any] | None:
    """Remove and return the pending launch for `state` (so a replayed callback finds none)."""
    if not session_id or not state:
        return None
    key = _key(session_id)
    with engine.begin() as conn:
        row = conn.execute(
            select(smart_sessions.c.expires_at, smart_sessions.c.data)
            .where(smart_sessions.c.key == key)
            .with_for_update()
        ).first()
        if row is None or row.expires_at < time.time():
            return None
        data = orjson.loads(row.data)
        pending = data.get("pending") or {}
        found = None
        for candidate in list(pending):
            if secrets.compare_digest(candidate.encode(), state.encode()):
                found = pending.pop(candidate)
        if found is None:
            return None
        conn.execute(
            sql_update(smart_sessions)
            .where(smart_sessions.c.key == key)
            .values(data=orjson.dumps(data).decode())
        )
    return found if isinstance(found, dict) else None


def delete_session(engine: Engine, session_id: str | None) -> None:
    if session_id:
        with engine.begin() as conn:
            conn.execute(delete(smart_sessions).where(smart_sessions.c.key == _key(session_id)))
