"""Mutated CDS bodies never get a 5xx, and no answer drops a keep-alive connection.

A valid body for each CDS endpoint (order-sign, order-select, patient-view, feedback) has one
to three of its values replaced by arbitrary JSON, or keys removed; the service must answer
cards or a 4xx problem. The same runs against a real `ldn serve` over one keep-alive
connection, and a route made to crash shows that even a 500 keeps the connection.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_helpers import hook_request, naltrexone_order

from local_ports import free_port

PATIENT = "p1"

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["resourceType", "entry", "resource", "coding", "code", "reason", "id", "x"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def _prefetch() -> dict[str, Any]:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "9014002"}],
            "text": "Psoriasis",
        },
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    return {
        "patient": {"resourceType": "Patient", "id": PATIENT, "birthDate": "1980-01-01"},
        "conditions": {"resourceType": "Bundle", "entry": [{"resource": condition}]},
        "medications": None,
        "statements": None,
    }


BASES: dict[str, dict[str, Any]] = {
    "/cds-services/ldn-order-sign": hook_request(
        "order-sign", PATIENT, _prefetch(), [naltrexone_order(PATIENT)]
    ),
    "/cds-services/ldn-order-select": hook_request(
        "order-select", PATIENT, _prefetch(), [naltrexone_order(PATIENT, mg=4.5)]
    ),
    "/cds-services/ldn-patient-view": hook_request("patient-view", PATIENT, _prefetch()),
    "/cds-services/ldn-order-sign/feedback": {
        "feedback": [
            {
                "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2026-11-26T10:05:31Z",
            },
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "cds-not-applicable", "system": "http://x.org/cs"},
                    "userComment": "seen",
                },
                "outcomeTimestamp": "2026-11-26T10:05:31.52+01:00",
            },
        ]
    },
}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (the root excluded)."""
    out: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*path, i))
    return out


PATHS = {url: _paths(body) for url, body in BASES.items()}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    url = draw(st.sampled_from(sorted(BASES)))
    body = copy.deepcopy(BASES[url])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        try:
            for part in path[:-1]:
                parent = parent[part]
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this place
    return url, body


def test_every_base_body_is_answered_200(dev_client: TestClient) -> None:
    for url, body in BASES.items():
        response = dev_client.post(url, json=body)
        assert response.status_code == 200, (url, response.text)


FUZZ_EXAMPLES = int(os.environ.get("LDN_CDS_FUZZ_EXAMPLES", "300"))


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
def test_mutated_bodies_never_get_5xx(dev_client: TestClient, case: tuple[str, Any]) -> None:
    url, body = case
    response = dev_client.post(url, json=body)
    assert response.status_code < 500, (url, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json().get("detail") or response.status_code == 404


# ------------------------------------------------------------------ against `ldn serve`


def _wait_for(port: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"ldn serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`ldn serve --dev` on a free loopback port (JWT checks off), one worker."""
    port = free_port()
    data = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}
    env["LDN_DATA_DIR"] = str(data)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "ldn"), "serve", "--dev", "--port", str(port)],
        cwd=data,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _post(conn: http.client.HTTPConnection, url: str, body: Any) -> tuple[int, bytes]:
    """POST on the open connection; fails if the server closed it or asks to."""
    sock = conn.sock
    conn.request("POST", url, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    assert not response.will_close, f"{url} answered {response.status} and closed the connection"
    assert sock is None or conn.sock is sock, "the connection was replaced"
    return response.status, data


def test_bad_then_good_on_one_connection(served: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=30)
    bad_bodies: list[tuple[str, Any]] = [
        ("/cds-services/ldn-order-sign", {**BASES["/cds-services/ldn-order-sign"], "context": 5}),
        (
            "/cds-services/ldn-order-sign",
            {
                **BASES["/cds-services/ldn-order-sign"],
                "prefetch": {**_prefetch(), "conditions": {"resourceType": "Bundle", "entry": 5}},
            },
        ),
        ("/cds-services/ldn-order-sign/feedback", {"feedback": [{"outcome": {"x": 1}}]}),
        ("/cds-services/ldn-patient-view", [1, 2]),
    ]
    try:
        for url, bad in bad_bodies:
            status, data = _post(conn, url, bad)
            assert 400 <= status < 500, data
            good_url = "/cds-services/ldn-order-sign"
            status, data = _post(conn, good_url, BASES[good_url])
            assert status == 200, data
            assert json.loads(data)["cards"]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def served_connection(served: int) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=30)
    yield conn
    conn.close()


@settings(
    max_examples=max(FUZZ_EXAMPLES // 3, 20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
def test_mutated_bodies_over_one_keep_alive_connection(
    served_connection: http.client.HTTPConnection, case: tuple[str, Any]
) -> None:
    url, body = case
    status, data = _post(served_connection, url, body)
    assert status < 500, (url, body, data)


# ------------------------------------------------------------------ the guard itself


def test_an_unexpected_error_is_a_500_problem_and_keeps_the_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn

    from ldn_derm.web.app import create_app
    from ldn_derm.web.settings import load_settings

    app = create_app(load_settings(data_dir=tmp_path, dev=True, host="127.0.0.1"))

    def crash() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-crash", crash, methods=["GET"])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(2):
            conn.request("GET", "/test-crash")
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == 500
            assert response.getheader("content-type") == "application/problem+json"
            assert body["type"] == "/problems#internal-error"
            assert not response.will_close
            sock = conn.sock
            conn.request("GET", "/api/v1/ping")
            response = conn.getresponse()
            assert response.status == 200, "the connection was dropped after the 500"
            response.read()
            assert conn.sock is sock
        conn.close()
        assert "a bug" in caplog.text  # logged
    finally:
        server.should_exit = True
        thread.join(10)
