"""Helpers for the registry tests: database backends, a clean database, a live uvicorn server.

PostgreSQL: the server at 127.0.0.1:5432 (trust auth, user postgres, database `test`). Each test
session works in its own schema (dropped at the end), so parallel runs never collide. When no
server answers, PostgreSQL tests are skipped with the reason; set LDN_REQUIRE_POSTGRES=1 (CI) to
make that a failure instead.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ldn_derm.registry import auth
from ldn_derm.registry.db import Database
from ldn_derm.registry.models import Base, User

PG_ADMIN_URL = os.environ.get(
    "LDN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "correct horse battery"


def postgres_unavailable() -> str | None:
    """None when the PostgreSQL test server answers, else the reason it cannot be used."""
    import psycopg

    plain = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any connection failure means "no server here"
        return f"PostgreSQL not reachable at {plain.split('@')[-1]}: {type(exc).__name__}"
    return None


def require_postgres() -> None:
    reason = postgres_unavailable()
    if reason is None:
        return
    if os.environ.get("LDN_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (LDN_REQUIRE_POSTGRES=1)")
    pytest.skip(reason)


def new_pg_schema() -> tuple[str, str]:
    """Create a fresh schema; returns (its name, a URL whose search_path points at it)."""
    import psycopg

    schema = f"ldn_test_{os.getpid()}_{secrets.token_hex(4)}"
    plain = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"


def drop_pg_schema(schema: str) -> None:
    import psycopg

    plain = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def wipe(db: Database) -> None:
    """Delete every registry row (children first), leaving the schema in place."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        else:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass
class People:
    """Accounts in two clinics plus a researcher and an admin."""

    clinician: auth.UserInfo  # clinic A
    other_clinician: auth.UserInfo  # clinic B
    researcher: auth.UserInfo  # every clinic
    admin: auth.UserInfo


@lru_cache(maxsize=1)
def password_hash() -> str:
    return auth.hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per session


def make_people(db: Database) -> People:
    """Insert the accounts directly with a shared hash (auth.create_user is tested separately)."""
    with db.transaction() as s:
        a = auth.get_or_create_clinic(s, "Clinic A")
        b = auth.get_or_create_clinic(s, "Clinic B")
        for name, role, clinic in (
            ("alice", "clinician", a),
            ("bob", "clinician", b),
            ("rhea", "researcher", None),
            ("adam", "admin", None),
        ):
            s.add(User(username=name, password_hash=password_hash(), role=role, clinic=clinic))
    users = {u.username: u for u in auth.list_users(db)}
    return People(users["alice"], users["bob"], users["rhea"], users["adam"])


def make_client(db_url: str, tmp_path: Path, dev: bool = True) -> TestClient:
    """A test client of the whole app on this registry database. (Here, not in conftest: a
    `from conftest import` can find another directory's conftest when suites run together.)"""
    from ldn_derm.web.app import create_app
    from ldn_derm.web.settings import load_settings

    settings = load_settings(
        database_url=db_url, data_dir=tmp_path / "data", dev=dev, secret_key="test-secret"
    )
    base = "http://testserver" if dev else "https://testserver"
    return TestClient(create_app(settings), base_url=base)


# ------------------------------------------------------------------ live server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    proc: subprocess.Popen[bytes]
    base: str

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn and its workers): no clean shutdown."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def server_env(db_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}
    env.update(
        {
            "LDN_DATABASE_URL": db_url,
            "LDN_DATA_DIR": str(data_dir),
            "LDN_DEV": "1",
            "LDN_SECRET_KEY": "registry-test-secret",
        }
    )
    return env


def start_server(db_url: str, data_dir: Path, workers: int = 1) -> LiveServer:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "ldn_derm.web.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-proxy-headers",  # as `ldn serve`: X-Forwarded-For only from trusted_proxies
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(
        cmd,
        env=server_env(db_url, data_dir),
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so kill() reaches the workers too
    )
    server = LiveServer(proc, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"uvicorn exited early: {err[-3000:]}")
        try:
            if httpx.get(f"{server.base}/api/v1/registry/session", timeout=1).status_code == 401:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("uvicorn did not come up within 60 s")
        time.sleep(0.1)


@contextmanager
def running_server(db_url: str, data_dir: Path, workers: int = 1) -> Iterator[LiveServer]:
    server = start_server(db_url, data_dir, workers)
    try:
        yield server
    finally:
        server.kill()


def api_login(client: httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Log in through the API; returns the CSRF token (the cookie stays in the client)."""
    r = client.post("/api/v1/registry/session", json={"username": username, "password": password})
    r.raise_for_status()
    token: str = r.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token


def visit_payload(day: int, token: str | None = None, **extra: Any) -> dict[str, Any]:
    from datetime import date, timedelta

    data: dict[str, Any] = {
        "visit_date": (date(2025, 1, 1) + timedelta(days=day)).isoformat(),
        "dose_mg": 4.5,
        "dose_time": "bedtime",
        "itch_nrs": 5,
        "side_effects": [
            {"effect": "vivid-dreams", "severity": "mild"},
            {"effect": "headache", "severity": "moderate"},
        ],
    }
    if token:
        data["client_token"] = token
    data.update(extra)
    return data
