"""Prefetch resolution: null keys, OperationOutcome, and fetching from the EHR's FHIR server."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from web_helpers import prefetch_from_bundle, synthea_bundle

from ldn_derm.web.cds.prefetch import PrefetchMissingError, fill_template, gather
from ldn_derm.web.cds.services import services


def order_sign() -> Any:
    return services()["ldn-order-sign"]


def test_fill_template_escapes_and_requires_tokens() -> None:
    assert fill_template("Patient/{{context.patientId}}", {"patientId": "a b"}) == "Patient/a%20b"
    assert fill_template("Patient/{{context.patientId}}", {}) is None
    assert fill_template("Condition?patient={{ context.patientId }}", {"patientId": 7}) == (
        "Condition?patient=7"
    )


def test_null_prefetch_means_found_nothing() -> None:
    body = {
        "context": {"patientId": "p"},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p"},
            "conditions": None,
            "medications": None,
        },
    }
    got = asyncio.run(gather(order_sign(), body, 1.0))
    assert got["conditions"] == [] and got["medications"] == []
    assert got["patient"][0]["id"] == "p"


@pytest.fixture()
def fhir_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A small FHIR server answering from a Synthea record; records what it was asked."""
    bundle = synthea_bundle("Chet_Thompson")
    pid, prefetch = prefetch_from_bundle(bundle)
    seen: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            seen.append(
                {
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "auth": self.headers.get("Authorization"),
                }
            )
            resource = url.path.rsplit("/", 2)
            body: Any
            if url.path.endswith(f"/Patient/{pid}"):
                body = prefetch["patient"]
            elif resource[-1] == "Condition":
                body = prefetch["conditions"]
            elif resource[-1] == "MedicationRequest":
                body = prefetch["medications"]
            elif resource[-1] == "MedicationStatement":
                body = prefetch["statements"]
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.end_headers()
            self.wfile.write(
                json.dumps(
                    body or {"resourceType": "Bundle", "type": "searchset", "entry": []}
                ).encode()
            )

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/fhir", seen
    finally:
        server.shutdown()


def test_missing_keys_are_fetched_with_the_token(
    fhir_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = fhir_server
    bundle = synthea_bundle("Chet_Thompson")
    pid, prefetch = prefetch_from_bundle(bundle)
    body = {
        "context": {"patientId": pid},
        "prefetch": {"patient": prefetch["patient"]},
        "fhirServer": url,
        "fhirAuthorization": {
            "access_token": "secret-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "ldn",
        },
    }
    got = asyncio.run(gather(order_sign(), body, 2.0, allowed_servers=(url + "/",)))
    assert len(got["medications"]) == len(prefetch["medications"]["entry"])
    assert len(got["conditions"]) == len(prefetch["conditions"]["entry"])
    asked = {s["path"] for s in seen}
    wanted = {"/fhir/Condition", "/fhir/MedicationRequest", "/fhir/MedicationStatement"}
    assert wanted <= asked  # the keys not prefetched
    assert asked <= {*wanted, "/fhir/Observation"}
    includes = {s["path"]: s["query"].get("_include") for s in seen}
    assert includes["/fhir/MedicationRequest"] == ["MedicationRequest:medication"]
    assert includes["/fhir/MedicationStatement"] == ["MedicationStatement:medication"]
    assert all(s["auth"] == "Bearer secret-token" for s in seen)
    assert all(s["query"]["patient"] == [pid] for s in seen)


def test_unreachable_fhir_server_is_412() -> None:
    body = {
        "context": {"patientId": "p"},
        "fhirServer": "http://127.0.0.1:9/fhir",
        "fhirAuthorization": {
            "access_token": "t",
            "token_type": "Bearer",
            "expires_in": 1,
            "scope": "x",
            "subject": "y",
        },
    }
    with pytest.raises(PrefetchMissingError) as err:
        asyncio.run(gather(order_sign(), body, 0.5))
    assert set(err.value.keys) == {"patient", "conditions", "medications"}


def _searchset(*resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r} for r in resources], **extra}  # fmt: skip


AMOXICILLIN = {
    "resourceType": "MedicationRequest",
    "id": "amox",
    "status": "active",
    "intent": "order",
    "subject": {"reference": "Patient/p"},
    "medicationCodeableConcept": {"text": "amoxicillin 500 MG Oral Capsule"},
}


@pytest.mark.parametrize(
    ("medications", "is_partial"),
    [
        (_searchset(AMOXICILLIN), False),
        (_searchset(AMOXICILLIN, total=1), False),
        (_searchset(AMOXICILLIN, link=[{"relation": "next", "url": "https://x/p2"}]), True),
        (_searchset(AMOXICILLIN, total=2), True),
        (_searchset(AMOXICILLIN, link=5, total="2"), False),  # odd shapes: not a crash
    ],
)
def test_a_prefetched_search_that_says_it_has_more_is_partial(
    medications: dict[str, Any], is_partial: bool
) -> None:
    body = {
        "context": {"patientId": "p"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "p"}, "conditions": None,
                     "medications": medications},
    }  # fmt: skip
    partial: set[str] = set()
    got = asyncio.run(gather(order_sign(), body, 1.0, partial=partial))
    assert [r["id"] for r in got["medications"]] == ["amox"]
    assert partial == ({"medications"} if is_partial else set())


@contextlib.contextmanager
def _fhir_answering(answer: Callable[[str, int], tuple[int, bytes]]) -> Iterator[str]:
    """A throw-away FHIR server on a free port: `answer(path, port)` gives (status, body) for
    each GET. Yields its base URL (…/fhir)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer(urlparse(self.path).path, self.server.server_address[1])
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()


def test_pages_left_unread_on_the_fhir_server_make_the_search_partial() -> None:
    """A server whose every page links to another: the reader stops at its page bound, and
    says so."""

    def endless(_path: str, port: int) -> tuple[int, bytes]:
        more = f"http://127.0.0.1:{port}/fhir/MedicationRequest?p=1"
        page = {"resourceType": "Bundle", "type": "searchset", "entry": [],
                "link": [{"relation": "next", "url": more}]}  # fmt: skip
        return 200, json.dumps(page).encode()

    with _fhir_answering(endless) as url:
        body = {
            "context": {"patientId": "p"},
            "prefetch": {"patient": {"resourceType": "Patient", "id": "p"}, "conditions": None},
            "fhirServer": url,
            "fhirAuthorization": {"access_token": "t", "token_type": "Bearer",
                                  "expires_in": 60, "scope": "user/*.read", "subject": "ldn"},
        }  # fmt: skip
        partial: set[str] = set()
        asyncio.run(gather(order_sign(), body, 2.0, allowed_servers=(url + "/",), partial=partial))
    assert "medications" in partial


def test_a_search_that_fails_or_answers_no_bundle_is_a_failed_read() -> None:
    """A search answered 404, or 200 with something that is not a Bundle, used to read as "no
    matches" (an opioid order could vanish from the SMART app's assessment); an instance read
    answered 404 is still "not found"."""
    from ldn_derm.web.cds.prefetch import read_fhir

    answers = {
        "/fhir/MedicationRequest": (404, b'{"resourceType":"OperationOutcome","issue":[]}'),
        "/fhir/Condition": (200, b"[]"),
        "/fhir/Observation": (200, b'{"resourceType":"Bundle","type":"searchset","entry":[]}'),
        "/fhir/Medication/m1": (404, b""),
    }
    with _fhir_answering(lambda path, _port: answers[path]) as base:
        queries = {"meds": "MedicationRequest?patient=p", "conds": "Condition?patient=p",
                   "obs": "Observation?patient=p", "med": "Medication/m1"}  # fmt: skip
        reads = asyncio.run(read_fhir(base, "t", queries, 2.0))
    assert reads["meds"].failed and reads["conds"].failed
    assert not reads["obs"].failed and reads["obs"].resources == []
    assert not reads["med"].failed and reads["med"].resources == []
