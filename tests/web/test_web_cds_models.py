"""Wrongly-typed CDS bodies are 400s naming the field; feedback and prefetch edge cases."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import hook_request, naltrexone_order

from ldn_derm.web.cds.store import feedback_rows

PATIENT = "p1"
PREFETCH: dict[str, Any] = {
    "patient": {"resourceType": "Patient", "id": PATIENT},
    "conditions": None,
    "medications": None,
    "statements": None,
}
SIGN = "/cds-services/ldn-order-sign"
FEEDBACK = "/cds-services/ldn-order-sign/feedback"


def _sign(**changes: Any) -> dict[str, Any]:
    body = hook_request("order-sign", PATIENT, copy.deepcopy(PREFETCH), [naltrexone_order(PATIENT)])
    for path, value in changes.items():
        parent = body
        parts = path.split("__")
        for part in parts[:-1]:
            parent = parent[int(part)] if part.isdigit() else parent[part]
        parent[parts[-1]] = value
    return body


HOOK_CASES = [
    # (what the brief names, body, the field the problem must name, words it must use)
    (
        "draftOrders.entry a number",
        _sign(context__draftOrders__entry=5),
        "context.draftOrders.entry",
        "should be a list, not a number",
    ),
    (
        "coding a number",
        _sign(context__draftOrders__entry__0__resource__medicationCodeableConcept__coding=5),
        "context.draftOrders.entry[0].resource.medicationCodeableConcept.coding",
        "should be a list, not a number",
    ),
    (
        "a prefetch Bundle with entry 5",
        _sign(prefetch__conditions={"resourceType": "Bundle", "entry": 5}),
        "prefetch.conditions.entry",
        "should be a list, not a number",
    ),
    (
        "a dose given as text",
        _sign(
            context__draftOrders__entry__0__resource__dosageInstruction__0__doseAndRate__0__doseQuantity__value="4.5"
        ),
        "context.draftOrders.entry[0].resource.dosageInstruction[0].doseAndRate[0]"
        ".doseQuantity.value",
        "should be a number, not text",
    ),
    (
        "a prefetch value that is not a resource",
        _sign(prefetch__medications=[1]),
        "prefetch.medications",
        "should be an object, not a list",
    ),
    (
        "context a string",
        _sign(context="x"),
        "context",
        "should be an object, not text",
    ),
    (
        "fhirServer a number",
        _sign(fhirServer=5),
        "fhirServer",
        "should be text, not a number",
    ),
    (
        "a Patient id that is a number",
        _sign(prefetch__patient={"resourceType": "Patient", "id": 7}),
        "prefetch.patient.id",
        "should be text, not a number",
    ),
    (
        "a condition code that is a list",
        _sign(prefetch__conditions={"resourceType": "Condition", "code": []}),
        "prefetch.conditions.code",
        "should be an object, not a list",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "words"), [c[1:] for c in HOOK_CASES], ids=[c[0] for c in HOOK_CASES]
)
def test_wrong_types_in_a_hook_request_are_400_naming_the_field(
    dev_client: TestClient, body: dict[str, Any], field: str, words: str
) -> None:
    response = dev_client.post(SIGN, json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"].startswith(f"{field} {words}")
    assert {"field": field, "message": words} in problem["errors"]


def _feedback(**item: Any) -> dict[str, Any]:
    base = {
        "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-26T10:05:31Z",
    }
    return {"feedback": [{**base, **item}]}


FEEDBACK_CASES = [
    ("outcome an object", _feedback(outcome={"a": 1}), "feedback[0].outcome"),
    (
        "overrideReason.reason.code an object",
        _feedback(overrideReason={"reason": {"code": {"a": 1}}}),
        "feedback[0].overrideReason.reason.code",
    ),
    ("an empty overrideReason", _feedback(overrideReason={}), "feedback[0].overrideReason"),
    (
        "an overrideReason with only an empty comment",
        _feedback(overrideReason={"userComment": ""}),
        "feedback[0].overrideReason",
    ),
    (
        "an ISO-week timestamp",
        _feedback(outcomeTimestamp="2026-W48-4T10:05:31Z"),
        "feedback[0].outcomeTimestamp",
    ),
    (
        "a timestamp without a zone",
        _feedback(outcomeTimestamp="2026-11-26T10:05:31"),
        "feedback[0].outcomeTimestamp",
    ),
    (
        "an ordinal-date timestamp",
        _feedback(outcomeTimestamp="2026-330T10:05:31Z"),
        "feedback[0].outcomeTimestamp",
    ),
    (
        "an impossible date",
        _feedback(outcomeTimestamp="2026-02-30T10:05:31Z"),
        "feedback[0].outcomeTimestamp",
    ),
    ("a card uuid longer than its column", _feedback(card="x" * 101), "feedback[0].card"),
    (
        "a NUL in the comment",
        _feedback(overrideReason={"userComment": "a\x00b"}),
        "feedback[0].overrideReason.userComment",
    ),
    ("accepted without suggestions", _feedback(outcome="accepted"), "feedback[0]"),
    ("feedback not a list", {"feedback": {"card": "x"}}, "feedback"),
]


@pytest.mark.parametrize(
    ("body", "field"), [c[1:] for c in FEEDBACK_CASES], ids=[c[0] for c in FEEDBACK_CASES]
)
def test_bad_feedback_is_400_naming_the_field_and_stores_nothing(
    dev_client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = dev_client.post(FEEDBACK, json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    engine = dev_client.app.state.engine  # type: ignore[attr-defined]
    assert feedback_rows(engine) == []


def test_good_feedback_is_stored_in_utc(dev_client: TestClient) -> None:
    body = _feedback(
        outcomeTimestamp="2026-11-26T11:05:31.52+01:00",
        overrideReason={"reason": {"code": "cds-not-applicable", "system": "http://x"}},
    )
    response = dev_client.post(FEEDBACK, json=body)
    assert response.status_code == 200, response.text
    engine = dev_client.app.state.engine  # type: ignore[attr-defined]
    (row,) = feedback_rows(engine)
    assert row["override_reason_code"] == "cds-not-applicable"
    assert row["outcome_timestamp"].replace(tzinfo=None).isoformat() == "2026-11-26T10:05:31.520000"


def test_patient_null_in_the_prefetch_is_412(dev_client: TestClient) -> None:
    body = _sign(prefetch__patient=None)
    response = dev_client.post(SIGN, json=body)
    assert response.status_code == 412, response.text
    assert response.json()["missing"] == ["patient"]


def test_a_search_key_that_is_null_still_means_found_nothing(dev_client: TestClient) -> None:
    response = dev_client.post(SIGN, json=_sign())
    assert response.status_code == 200, response.text
