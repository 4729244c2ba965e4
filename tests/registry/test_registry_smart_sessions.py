"""The SMART app's server-side sessions (stored with the registry's tables): renewed by each
launch, and changed atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from ldn_derm.registry.db import make_engine
from ldn_derm.registry.models import smart_sessions
from ldn_derm.web.smart import store


def test_a_new_launch_renews_the_session_and_changes_never_overwrite_each_other(
    db_url: str,
) -> None:
    """The lifetime counted from the first launch (a patient opened at minute 55 of 60 was gone
    five minutes later), and two callbacks at once in one browser could lose a launch: each
    read the session, added its own and wrote the whole back."""
    engine = make_engine(db_url)

    def expiry(session: str) -> int:
        with engine.connect() as conn:
            found = conn.execute(
                select(smart_sessions.c.expires_at).where(
                    smart_sessions.c.key == store._key(session)
                )
            ).scalar_one()
        return int(found)

    try:
        session = store.new_session(engine, {"pending": {}, "launches": {}}, 60)
        first = expiry(session)
        assert store.update_session(engine, session, lambda d: None, 3600)
        renewed = expiry(session)
        assert first + 3500 <= renewed <= time.time() + 3601

        def add(i: int) -> bool:
            def change(data: dict[str, Any]) -> None:
                time.sleep(0.02)  # a slow change: the window another write would fall into
                data["launches"][f"l{i}"] = {"at": i}

            return store.update_session(engine, session, change)

        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(add, range(12)))
        launches = (store.load_session(engine, session) or {})["launches"]
        assert sorted(launches) == sorted(f"l{i}" for i in range(12))
        assert expiry(session) == renewed  # a change alone does not renew the session
        assert not store.update_session(engine, "no-such-session", lambda d: None)
    finally:
        engine.dispose()
