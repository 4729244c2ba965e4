"""`ldn serve` end to end: X-Forwarded-For from a client on the same machine (a loopback
peer, which uvicorn's own proxy-header handling would trust) does not move the login limits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ldn_derm.registry import auth, migrate
from ldn_derm.registry.auth import MAX_FAILURES
from ldn_derm.registry.db import Database

pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ldn_serve_does_not_believe_forwarded_for_from_loopback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ldn.sqlite3'}"
    migrate.upgrade(url)
    db = Database(url)
    auth.create_user(
        db,
        {"username": "alice", "password": "long enough pw", "role": "clinician", "clinic": "A"},
        None,
    )
    db.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}
    env |= {"LDN_DATABASE_URL": url, "LDN_DATA_DIR": str(tmp_path), "LDN_SECRET_KEY": "t"}
    code = "import sys; from ldn_derm.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "serve", "--dev", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}/api/v1/registry/session"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        statuses = [
            httpx.post(
                base,
                json={"username": "alice", "password": "wrong password"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
                timeout=30,
            ).status_code
            for i in range(MAX_FAILURES + 1)
        ]
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert statuses == [401] * MAX_FAILURES + [429]
