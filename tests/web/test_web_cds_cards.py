"""CDS cards from Synthea prefetch and hand-written draft orders (JWT verification on)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import (
    BASE_URL,
    Signer,
    hook_request,
    naltrexone_order,
    prefetch_from_bundle,
    synthea_bundle,
)

PSORIASIS = {
    "resourceType": "Condition",
    "id": "psoriasis-1",
    "clinicalStatus": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
        ]
    },
    "code": {
        "coding": [{"system": "http://snomed.info/sct", "code": "9014002", "display": "Psoriasis"}],
        "text": "Psoriasis",
    },
}


def call(client: TestClient, signer: Signer, service: str, body: dict[str, Any]) -> Any:
    path = f"/cds-services/{service}"
    return client.post(
        path, json=body, headers={"Authorization": f"Bearer {signer.token(BASE_URL + path)}"}
    )


def check_card_shape(card: dict[str, Any]) -> None:
    assert uuid.UUID(card["uuid"])
    assert 0 < len(card["summary"]) < 140
    assert card["indicator"] in {"info", "warning", "critical"}
    assert card["source"]["label"]
    if card["indicator"] != "info":
        assert card["overrideReasons"] and all(r["display"] for r in card["overrideReasons"])
    for s in card.get("suggestions", []):
        assert uuid.UUID(s["uuid"]) and s["label"] and s["actions"]
        assert card["selectionBehavior"] == "at-most-one"
    for link in card.get("links", []):
        assert link["type"] == "absolute" and link["url"].startswith(BASE_URL)


def with_condition(prefetch: dict[str, Any], condition: dict[str, Any]) -> dict[str, Any]:
    conditions = prefetch.get("conditions") or {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
    }
    conditions = {**conditions, "entry": [*conditions["entry"], {"resource": condition}]}
    return {**prefetch, "conditions": conditions}


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_opioid_user_gets_a_critical_card(client: TestClient, signer: Signer, hook: str) -> None:
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Chet_Thompson"))  # active oxycodone
    body = hook_request(hook, pid, prefetch, draft=[naltrexone_order(pid, mg=4.5)])
    response = call(client, signer, f"ldn-{hook}", body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert critical, cards
    assert any("opioid" in (c["summary"] + c.get("detail", "")).lower() for c in critical)
    assert "oxycodone" in " ".join(c.get("detail", "") for c in critical).lower()
    for card in cards:
        check_card_shape(card)
    assert cards[0]["indicator"] == "critical"  # most urgent first


def test_standard_dose_for_psoriasis_gets_warning_with_low_dose_suggestion(
    client: TestClient, signer: Signer
) -> None:
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Christin_Stiedemann"))
    prefetch = with_condition(prefetch, PSORIASIS)
    order = naltrexone_order(pid, mg=50)
    order["reasonCode"] = [{"text": "Psoriasis"}]
    response = call(
        client, signer, "ldn-order-sign", hook_request("order-sign", pid, prefetch, draft=[order])
    )
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    warning = next(c for c in cards if c["indicator"] == "warning")
    check_card_shape(warning)
    assert "50" in warning["summary"]
    action = warning["suggestions"][0]["actions"][0]
    assert action["type"] == "update"
    resource = action["resource"]
    assert resource["id"] == order["id"] and resource["resourceType"] == "MedicationRequest"
    doses = [
        dr["doseQuantity"]["value"]
        for d in resource["dosageInstruction"]
        for dr in d.get("doseAndRate", [])
    ]
    assert doses and all(1.5 <= v <= 4.5 for v in doses), doses
    info = [c for c in cards if c["indicator"] == "info"]
    assert info and "monitor" in info[0]["detail"].lower()


def test_low_dose_for_psoriasis_gets_only_the_plan(client: TestClient, signer: Signer) -> None:
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Christin_Stiedemann"))
    prefetch = with_condition(prefetch, PSORIASIS)
    order = naltrexone_order(pid, mg=4.5)
    response = call(
        client,
        signer,
        "ldn-order-select",
        hook_request("order-select", pid, prefetch, draft=[order]),
    )
    cards = response.json()["cards"]
    assert [c["indicator"] for c in cards] == ["info"], cards
    check_card_shape(cards[0])


def test_patient_view_shows_evidence_for_atopic_dermatitis(
    client: TestClient, signer: Signer
) -> None:
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Christin_Stiedemann"))
    response = call(client, signer, "ldn-patient-view", hook_request("patient-view", pid, prefetch))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards and all(c["indicator"] == "info" for c in cards)
    card = cards[0]
    check_card_shape(card)
    assert "dermatitis" in card["summary"].lower()
    assert card["links"][0]["url"].startswith(f"{BASE_URL}/evidence/")
    assert "References" in card["detail"]
    # the atopic-dermatitis itch trials used 50 mg: the card must not call them LDN evidence
    assert "only above the low-dose range" in card["summary"]
    assert "Low-dose naltrexone has published evidence" not in card["summary"]
    assert "is the standard dose for alcohol and opioid use disorder, not LDN" in card["detail"]


def test_patient_without_ldn_conditions_gets_no_patient_view_card(
    client: TestClient, signer: Signer
) -> None:
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Alberto_Atencio"))
    response = call(client, signer, "ldn-patient-view", hook_request("patient-view", pid, prefetch))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_null_prefetch_keys_are_honoured(client: TestClient, signer: Signer) -> None:
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Christin_Stiedemann"))
    prefetch["medications"] = None
    prefetch = with_condition(prefetch, PSORIASIS)
    response = call(
        client,
        signer,
        "ldn-order-sign",
        hook_request("order-sign", pid, prefetch, draft=[naltrexone_order(pid, 3)]),
    )
    assert response.status_code == 200
    assert not [c for c in response.json()["cards"] if c["indicator"] == "critical"]


def test_feedback_round_trip_with_returned_uuids(client: TestClient, signer: Signer) -> None:
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Christin_Stiedemann"))
    prefetch = with_condition(prefetch, PSORIASIS)
    order = naltrexone_order(pid, mg=50)
    cards = call(
        client, signer, "ldn-order-sign", hook_request("order-sign", pid, prefetch, draft=[order])
    ).json()["cards"]
    warning = next(c for c in cards if c["indicator"] == "warning")
    path = "/cds-services/ldn-order-sign/feedback"
    feedback = {
        "feedback": [
            {
                "card": warning["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": warning["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-26T23:00:00Z",
            }
        ]
    }
    response = client.post(
        path, json=feedback, headers={"Authorization": f"Bearer {signer.token(BASE_URL + path)}"}
    )
    assert response.json() == {"stored": 1}


def test_patient_view_says_when_the_screen_is_incomplete(
    client: TestClient, signer: Signer
) -> None:
    """Evidence is never shown as if the safety screen were complete: an unidentified current
    medicine gives a warning card first, naming it."""
    pid, prefetch = prefetch_from_bundle(synthea_bundle("Alberto_Atencio"))
    prefetch = with_condition(prefetch, PSORIASIS)
    meds = prefetch.get("medications") or {"resourceType": "Bundle", "type": "searchset"}
    mystery = {
        "resourceType": "MedicationRequest",
        "id": "mystery-1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {"text": "Fooxol"},
    }
    meds = {**meds, "entry": [*meds.get("entry", []), {"resource": mystery}]}
    prefetch["medications"] = meds
    response = call(client, signer, "ldn-patient-view", hook_request("patient-view", pid, prefetch))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards[0]["indicator"] == "warning" and "Fooxol" in cards[0]["detail"]
    assert (
        "could not check" in cards[0]["summary"].lower() or "not identified" in cards[0]["summary"]
    )
    assert any("psoriasis" in c["summary"].lower() for c in cards[1:])
