"""fhirServer is never resolved to loopback, link-local or private addresses unless a
fhir_servers list names it; a --dev server without JWT checks reads only listed servers."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import BASE_URL, ISSUER, Signer, hook_request, naltrexone_order

from ldn_derm.web.app import create_app
from ldn_derm.web.cds.prefetch import PrefetchMissingError, gather, is_public_address
from ldn_derm.web.cds.services import services
from ldn_derm.web.settings import load_settings

TOKEN = {
    "access_token": "secret",
    "token_type": "Bearer",
    "expires_in": 60,
    "scope": "user/*.read",
    "subject": "ldn",
}


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata (link-local)
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("192.0.2.1", False),  # documentation
        ("not an address", False),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.fixture()
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP port that records every connection made to it (and closes it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = sock.accept()
            except OSError:
                continue
            seen.append(str(peer))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1]), seen
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def _body(server: str) -> dict[str, object]:
    body = hook_request("order-sign", "p1", None, [naltrexone_order("p1")])
    body.update(fhirServer=server, fhirAuthorization=TOKEN)
    return body


@pytest.mark.parametrize(
    "template",
    ["http://127.0.0.1:{port}/fhir", "http://localhost:{port}/fhir", "https://localhost:{port}/r4"],
)
def test_an_unlisted_server_on_this_machine_is_never_contacted(
    listener: tuple[int, list[str]], template: str
) -> None:
    port, seen = listener
    with pytest.raises(PrefetchMissingError):
        asyncio.run(gather(services()["ldn-order-sign"], _body(template.format(port=port)), 2.0))
    assert seen == []


def test_a_listed_server_on_this_machine_is_contacted(listener: tuple[int, list[str]]) -> None:
    port, seen = listener
    url = f"http://127.0.0.1:{port}/fhir"
    with pytest.raises(PrefetchMissingError):  # it answers nothing usable, but it was asked
        asyncio.run(
            gather(services()["ldn-order-sign"], _body(url), 2.0, allowed_servers=(url + "/",))
        )
    assert seen


def test_a_trusted_ehr_without_a_list_cannot_make_us_call_a_local_port(
    listener: tuple[int, list[str]], tmp_path: Path, signer: Signer
) -> None:
    import json

    port, seen = listener
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(signer.jwks()), encoding="utf-8")
    settings = load_settings(
        data_dir=tmp_path / "data",
        public_base_url=BASE_URL,
        trusted_issuers=(ISSUER,),
        jwks_files=(str(jwks),),
        host="0.0.0.0",
    )
    service = f"{BASE_URL}/cds-services/ldn-order-sign"
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        auth = {"Authorization": f"Bearer {signer.token(service)}"}
        body = _body(f"https://localhost:{port}/fhir")
        response = client.post("/cds-services/ldn-order-sign", json=body, headers=auth)
    assert response.status_code == 412, response.text
    assert seen == []


def test_a_dev_server_calls_no_local_port_for_anyone(
    listener: tuple[int, list[str]], dev_client: TestClient
) -> None:
    port, seen = listener
    body = _body(f"http://127.0.0.1:{port}/fhir")
    response = dev_client.post("/cds-services/ldn-order-sign", json=body)
    assert response.status_code == 412, response.text
    assert seen == []
