"""The web layer's database engine (SQLite file in data_dir by default, any SQLAlchemy URL).

State shared between workers (CDS feedback, the JWT replay cache) lives here, so several
workers or hosts can serve the app behind a load balancer when they share one database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ldn_derm.web.settings import Settings


def make_engine(settings: Settings) -> Engine:
    from sqlalchemy import create_engine, event

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a logged database error must not carry feedback comments or jtis
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL + NORMAL: commits without fsync on every insert, readers never block writers.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        return engine
    if url.startswith(("postgresql://", "postgres://")):  # psycopg 3 is the installed driver
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)
