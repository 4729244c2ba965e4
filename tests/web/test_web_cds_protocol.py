"""CDS Hooks 2.0 protocol: discovery, prefetch rules (412, null keys, FHIR fallback), feedback."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import (
    BASE_URL,
    Signer,
    hook_request,
    naltrexone_order,
    other_order,
    prefetch_from_bundle,
    synthea_bundle,
)

SERVICES = {
    "ldn-patient-view": "patient-view",
    "ldn-order-select": "order-select",
    "ldn-order-sign": "order-sign",
}


def auth(signer: Signer, path: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {signer.token(BASE_URL + path)}"}


def call(client: TestClient, signer: Signer, service: str, body: dict[str, Any]) -> Any:
    path = f"/cds-services/{service}"
    return client.post(path, json=body, headers=auth(signer, path))


def test_discovery_lists_the_three_services(client: TestClient, signer: Signer) -> None:
    response = client.get("/cds-services", headers=auth(signer, "/cds-services"))
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert {k: v["hook"] for k, v in services.items()} == SERVICES
    for s in services.values():
        assert s["description"] and s["title"]
        assert {"patient", "conditions", "medications"} <= set(s["prefetch"])
        for template in s["prefetch"].values():
            tokens = re.findall(r"\{\{([^}]*)\}\}", template)
            assert tokens, template
            # only root-level context tokens (no context.a.b)
            assert all(re.fullmatch(r"context\.[A-Za-z]+", t.strip()) for t in tokens), tokens


def test_unknown_service_is_404(client: TestClient, signer: Signer) -> None:
    body = hook_request("patient-view", "1", None)
    assert call(client, signer, "no-such-service", body).status_code == 404


def test_wrong_hook_and_bad_bodies_are_400(client: TestClient, signer: Signer) -> None:
    body = hook_request("patient-view", "1", None)
    assert call(client, signer, "ldn-order-sign", body).status_code == 400
    path = "/cds-services/ldn-order-sign"
    r = client.post(
        path,
        content=b"{not json",
        headers={**auth(signer, path), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["title"]
    r = client.post(
        path, content=b"<xml/>", headers={**auth(signer, path), "Content-Type": "application/xml"}
    )
    assert r.status_code == 415


def test_other_draft_orders_get_no_cards(client: TestClient, signer: Signer) -> None:
    # no prefetch at all: the service must not need any data to say "nothing to add"
    body = hook_request("order-sign", "p1", None, draft=[other_order("p1")])
    response = call(client, signer, "ldn-order-sign", body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


@pytest.mark.parametrize("service", ["ldn-order-sign", "ldn-order-select"])
def test_missing_prefetch_without_fhir_server_is_412(
    client: TestClient, signer: Signer, service: str
) -> None:
    bundle = synthea_bundle("Chet_Thompson")
    pid, prefetch = prefetch_from_bundle(bundle)
    del prefetch["medications"]
    body = hook_request(SERVICES[service], pid, prefetch, draft=[naltrexone_order(pid)])
    response = call(client, signer, service, body)
    assert response.status_code == 412
    assert response.json()["missing"] == ["medications"]


def test_operation_outcome_counts_as_missing(client: TestClient, signer: Signer) -> None:
    bundle = synthea_bundle("Chet_Thompson")
    pid, prefetch = prefetch_from_bundle(bundle)
    prefetch["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    body = hook_request("patient-view", pid, prefetch)
    assert call(client, signer, "ldn-patient-view", body).status_code == 412


def test_feedback_is_stored(client: TestClient, signer: Signer, secure_app: Any) -> None:
    from ldn_derm.web.cds.store import feedback_rows

    card, suggestion = str(uuid.uuid4()), str(uuid.uuid4())
    body = {
        "feedback": [
            {
                "card": card,
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}],
                "outcomeTimestamp": "2026-11-26T10:05:31Z",
            },
            {
                "card": card,
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {
                        "system": "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes",
                        "code": "cds-not-applicable",
                        "display": "Does not apply",
                    },
                    "userComment": "Patient stopped the opioid last week.",
                },
                "outcomeTimestamp": "2026-11-26T10:06:00.52Z",
            },
        ]
    }
    path = "/cds-services/ldn-order-sign/feedback"
    response = client.post(path, json=body, headers=auth(signer, path))
    assert response.status_code == 200, response.text
    rows = feedback_rows(secure_app.state.engine, "ldn-order-sign")
    assert [r["outcome"] for r in rows] == ["accepted", "overridden"]
    assert rows[0]["card_uuid"] == card and suggestion in rows[0]["accepted_suggestions"]
    assert rows[1]["override_reason_code"] == "cds-not-applicable"
    assert rows[1]["user_comment"].startswith("Patient stopped")
    assert rows[0]["issuer"] == "https://ehr.example.org"


@pytest.mark.parametrize(
    "item",
    [
        {"outcome": "accepted", "outcomeTimestamp": "2026-11-26T10:05:31Z"},
        {"card": "c", "outcome": "maybe", "outcomeTimestamp": "2026-11-26T10:05:31Z"},
        {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-26T10:05:31Z"},
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:05:31"},
        {
            "card": "c",
            "outcome": "overridden",
            "overrideReason": "no",
            "outcomeTimestamp": "2026-11-26T10:05:31Z",
        },
    ],
)
def test_bad_feedback_is_400(client: TestClient, signer: Signer, item: dict[str, Any]) -> None:
    path = "/cds-services/ldn-order-sign/feedback"
    response = client.post(path, json={"feedback": [item]}, headers=auth(signer, path))
    assert response.status_code == 400
    assert "feedback[0]" in response.json()["detail"]


def test_feedback_for_unknown_service_is_404(client: TestClient, signer: Signer) -> None:
    path = "/cds-services/nope/feedback"
    response = client.post(path, json={"feedback": []}, headers=auth(signer, path))
    assert response.status_code == 404


def test_cors_preflight_for_allowed_origin(tmp_path: Any) -> None:
    from ldn_derm.web.app import create_app
    from ldn_derm.web.settings import load_settings

    settings = load_settings(
        data_dir=tmp_path, allowed_origins=("https://sandbox.example",), host="0.0.0.0"
    )
    with TestClient(create_app(settings)) as c:
        ok = c.options(
            "/cds-services/ldn-order-sign",
            headers={
                "Origin": "https://sandbox.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://sandbox.example"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        bad = c.options(
            "/cds-services/ldn-order-sign",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in bad.headers
