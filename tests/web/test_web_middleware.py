"""Request-body limits against a real uvicorn server over real sockets: a chunked body over the
limit gets 413 (not 400) on every route that takes a body, and a client that sends its body
too slowly gets 408 and a closed connection instead of holding a worker forever."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute

from local_ports import free_port

pytestmark = pytest.mark.timeout(240)

MAX_BODY = 4096
BODY_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    data = tmp_path_factory.mktemp("limits")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}
    env |= {
        "LDN_DATA_DIR": str(data),
        "LDN_DEV": "1",
        "LDN_SECRET_KEY": "limits-test",
        "LDN_MAX_BODY_BYTES": str(MAX_BODY),
        "LDN_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S),
    }
    proc = subprocess.Popen(
        [
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
            "--no-proxy-headers",
        ],
        env=env,
        cwd=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/ping", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _body_routes() -> list[tuple[str, str]]:
    """(method, path) of every route that takes a body, path parameters filled in."""
    from ldn_derm.web.api import router as api_router
    from ldn_derm.web.cds.routes import router as cds_router
    from ldn_derm.web.pages import router as pages_router
    from ldn_derm.web.registry.api import router as registry_api
    from ldn_derm.web.registry.pages import router as registry_pages
    from ldn_derm.web.smart.routes import router as smart_router

    out = []
    for prefix, router in (
        ("", cds_router),
        ("/api/v1", api_router),
        ("", pages_router),
        ("", smart_router),
        ("/api/v1/registry", registry_api),
        ("/registry", registry_pages),
    ):
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            path = prefix + route.path
            for param in route.param_convertors:
                path = path.replace("{" + param + "}", "1")
            for method in sorted(route.methods & {"POST", "PUT", "PATCH"}):
                out.append((method, path))
    return out


def _status_line(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data, "the server closed the connection without an answer"
    return int(data.split(b" ", 2)[1]), data


def test_chunked_oversize_bodies_get_413_on_every_route(server: tuple[str, int]) -> None:
    host, port = server
    routes = _body_routes()
    assert len(routes) >= 15, routes
    wrong = {}
    for method, path in routes:
        form = not path.startswith(("/api/", "/cds-services"))
        kind = "application/x-www-form-urlencoded" if form else "application/json"
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(
                f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: {kind}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"a=" + b"1" * 2000 if form else b"[" + b"1," * 1000 + b"1]"
            try:
                for _ in range(4):  # ~8 KB, twice the limit
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer and close before the whole body is sent
            try:
                status, _ = _status_line(sock)
            except TimeoutError:
                status = 0  # no answer at all
            if status != 413:
                wrong[(method, path)] = status
    # a route that refuses before reading the body (401 without a JWT, 403 without a
    # session, 404/405) is fine too: only answers that read the body must be 413, never 400
    assert not {k: v for k, v in wrong.items() if v in (0, 400, 422, 500)}, wrong
    assert len(wrong) < len(routes) // 2, wrong


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_slow_body_gets_408_and_the_connection_is_closed(
    server: tuple[str, int], chunked: bool
) -> None:
    host, port = server
    framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 200"
    with socket.create_connection((host, port), timeout=15) as sock:
        sock.sendall(
            f"POST /api/v1/assess HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n".encode()
        )
        started = time.monotonic()
        answered = None
        for _ in range(40):  # one byte every 0.25 s: 10 s if nobody stops it
            try:
                sock.sendall(b"1\r\n \r\n" if chunked else b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.settimeout(0.25)
            try:
                answered = sock.recv(65536)
            except TimeoutError:
                continue
            break
        elapsed = time.monotonic() - started
        assert answered, "the server never answered the slow client"
        assert int(answered.split(b" ", 2)[1]) == 408, answered[:200]
        assert b"connection: close" in answered.lower()
        assert elapsed < BODY_TIMEOUT_S + 4, elapsed
        sock.settimeout(5)
        rest = b""
        try:
            while chunk := sock.recv(65536):
                rest += chunk
        except ConnectionResetError:
            pass
        # recv returned b"": the server closed the connection


def test_a_normal_body_still_passes(server: tuple[str, int]) -> None:
    host, port = server
    r = httpx.post(f"http://{host}:{port}/api/v1/assess", json={}, timeout=10)
    assert r.status_code not in (408, 413), r.text
