"""`ldn serve` end to end, over real sockets: X-Forwarded-For from a client on the same machine
(a loopback peer, which uvicorn's own proxy-header handling would trust) does not move the
login limits, and a client that sends its request headers too slowly is disconnected."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from ldn_derm.registry import auth, migrate
from ldn_derm.registry.auth import MAX_FAILURES
from ldn_derm.registry.db import Database
from local_ports import free_port

pytestmark = pytest.mark.timeout(180)
HEADER_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`ldn serve --dev` on a free port with a registry holding one clinician; its port."""
    tmp_path = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{tmp_path / 'ldn.sqlite3'}"
    migrate.upgrade(url)
    db = Database(url)
    auth.create_user(
        db,
        {"username": "alice", "password": "long enough pw", "role": "clinician", "clinic": "A"},
        None,
    )
    db.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}
    env |= {
        "LDN_DATABASE_URL": url,
        "LDN_DATA_DIR": str(tmp_path),
        "LDN_SECRET_KEY": "t",
        "LDN_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
    }
    code = "import sys; from ldn_derm.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "serve", "--dev", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/ping", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_ldn_serve_does_not_believe_forwarded_for_from_loopback(served: int) -> None:
    base = f"http://127.0.0.1:{served}/api/v1/registry/session"
    statuses = [
        httpx.post(
            base,
            json={"username": "alice", "password": "wrong password"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
            timeout=30,
        ).status_code
        for i in range(MAX_FAILURES + 1)
    ]
    assert statuses == [401] * MAX_FAILURES + [429]


def test_slow_request_headers_are_cut_off(served: int) -> None:
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        for _ in range(40):  # one header byte every 0.25 s: 10 s if nobody stops it
            try:
                sock.sendall(b"X")
                sock.settimeout(0.25)
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed, "the server kept a slowloris connection open"
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 3


def test_normal_keep_alive_requests_are_not_cut(served: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{served}", timeout=10) as client:
        for _ in range(3):
            assert client.get("/api/v1/ping").status_code == 200
            time.sleep(HEADER_TIMEOUT_S * 1.5)  # idle between requests, under keep-alive's 5 s
        assert client.get("/api/v1/ping").status_code == 200
