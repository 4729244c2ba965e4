"""Size caps on headers, tokens and `jti`, and refusal reasons in the log without the token."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import BASE_URL, Signer

from ldn_derm.web.cds.trust import MAX_JTI_CHARS, MAX_TOKEN_BYTES
from ldn_derm.web.middleware import MAX_HEADER_BYTES
from local_ports import free_port

DISCOVERY = f"{BASE_URL}/cds-services"


def _get(client: TestClient, token: str) -> int:
    return client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_validly_signed_oversized_token_is_refused(client: TestClient, signer: Signer) -> None:
    assert _get(client, signer.token(DISCOVERY, padding="x" * 100)) == 200
    token = signer.token(DISCOVERY, padding="x" * MAX_TOKEN_BYTES)
    assert _get(client, token) == 401


def test_a_validly_signed_long_jti_is_refused(client: TestClient, signer: Signer) -> None:
    assert _get(client, signer.token(DISCOVERY, jti="j" * MAX_JTI_CHARS)) == 200
    assert _get(client, signer.token(DISCOVERY, jti="k" * (MAX_JTI_CHARS + 1))) == 401


def test_headers_over_the_cap_are_431(client: TestClient) -> None:
    big = {f"x-filler-{i}": "y" * 1000 for i in range(MAX_HEADER_BYTES // 1000 + 2)}
    response = client.get("/api/v1/ping", headers=big)
    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/ping", headers={"x-filler": "y" * 1000}).status_code == 200


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("CDS call refused")]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s: s.token(DISCOVERY, lifetime=-600), "token expired"),
        (lambda s: s.token("https://elsewhere.example/cds-services"), "aud is not this endpoint"),
        (lambda s: s.token(DISCOVERY, iss="https://evil.example\nforged line"), "not trusted"),
        (lambda s: s.token(DISCOVERY)[:-8] + "AAAAAAAA", "bad signature"),
        (lambda s: s.token(DISCOVERY, jti="k" * 5000), "jti of 5,000 characters"),
        (lambda s: s.token(DISCOVERY, padding="p" * 20_000), "Authorization header of"),
        (lambda s: "junk." * 3 + "x", "malformed JWT"),
    ],
)
def test_refusal_reasons_are_logged_without_the_token(
    client: TestClient,
    signer: Signer,
    caplog: pytest.LogCaptureFixture,
    make: object,
    reason: str,
) -> None:
    token = make(signer)  # type: ignore[operator]
    caplog.set_level(logging.INFO, logger="ldn_derm")
    assert _get(client, token) == 401
    (line,) = _refusals(caplog)
    assert reason in line, line
    assert "\n" not in line  # a forged issuer cannot start a log line of its own
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in line
    assert len(line) < 300


def test_a_replayed_token_is_logged_as_a_replay(
    client: TestClient, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ldn_derm")
    token = signer.token(DISCOVERY)
    assert _get(client, token) == 200
    assert _get(client, token) == 401
    (line,) = _refusals(caplog)
    assert "replayed" in line and token.split(".")[1] not in line


def test_ldn_serve_logging_passes_our_info_lines_on() -> None:
    """uvicorn's logging set up as `ldn serve` does: an ldn_derm INFO line reaches stderr."""
    code = (
        "import logging.config\n"
        "from ldn_derm.cli.serve import _log_config\n"
        "logging.config.dictConfig(_log_config())\n"
        "logging.getLogger('ldn_derm.web.cds').info('CDS call refused: token expired')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "CDS call refused: token expired" in result.stderr


# ------------------------------------------------------------------ the server's header cap


@pytest.fixture()
def capped_server(tmp_path: Path) -> Iterator[int]:
    import uvicorn

    from ldn_derm.web.app import create_app
    from ldn_derm.web.server import LdnHttpProtocol
    from ldn_derm.web.settings import load_settings

    app = create_app(load_settings(data_dir=tmp_path, dev=True, host="127.0.0.1"))
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=LdnHttpProtocol,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def _exchange(port: int, head: bytes, body: bytes = b"", chunk: int = 16 * 1024) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        data = head + body
        try:
            for i in range(0, len(data), chunk):
                sock.sendall(data[i : i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused and closed: read what it said
        answer = b""
        try:
            while piece := sock.recv(65536):
                answer += piece
        except ConnectionResetError:
            pass
        return answer


def test_the_server_refuses_a_10_mb_header_without_reading_it(capped_server: int) -> None:
    token = b"a" * 5_000_000 + b"." + b"b" * 5_000_000
    head = b"GET /cds-services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\r\n\r\n"
    started = time.monotonic()
    answer = _exchange(capped_server, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"application/problem+json" in answer
    assert time.monotonic() - started < 5


def test_a_large_body_with_small_headers_is_not_taken_for_large_headers(
    capped_server: int,
) -> None:
    body = b'{"feedback": [' + b" " * 1_000_000 + b"]}"
    head = (
        b"POST /cds-services/ldn-order-sign/feedback HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    answer = _exchange(capped_server, head, body, chunk=256 * 1024)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
