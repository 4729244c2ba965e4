"""The order services over HTTP: the draft-order shapes of the issue, rendered as cards.

Decisions are tested in tests/regimen/test_orders.py; here, that the HTTP service asks for what
the rules need, renders what the core decides, and refuses data about another patient.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import BASE_URL, Signer, hook_request

from ldn_derm.regimen.fhir import validate_medication_request
from ldn_derm.web.app import create_app
from ldn_derm.web.cds.prefetch import PatientMismatchError, gather
from ldn_derm.web.cds.services import services
from ldn_derm.web.settings import load_settings

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PID = "1288992"  # the patient id of the CDS Hooks spec's examples
DAILY = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def prefetch(*medications: dict[str, Any], patient_id: str = PID) -> dict[str, Any]:
    return {
        "patient": {
            "resourceType": "Patient",
            "id": patient_id,
            "gender": "female",
            "birthDate": "1975-04-02",
        },
        "conditions": searchset(
            {
                "resourceType": "Condition",
                "id": "hh",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"text": "Hailey-Hailey disease"},
                "subject": {"reference": f"Patient/{PID}"},
            }
        ),
        "medications": searchset(*medications) if medications else None,
        "statements": None,
    }


def draft(medication: dict[str, Any], mg: float, unit: str = "mg", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "ltx-draft",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PID}"},
        **medication,
        "dosageInstruction": [
            {"timing": DAILY, "doseAndRate": [{"doseQuantity": {"value": mg, "unit": unit}}]}
        ],
        **extra,
    }


CONTAINED_NALTREXONE = {
    "medicationReference": {"reference": "#m"},
    "contained": [
        {
            "resourceType": "Medication",
            "id": "m",
            "code": {"coding": [{"system": RXNORM, "code": "7243", "display": "naltrexone"}]},
        }
    ],
}
HOME_OXYCODONE = {
    "resourceType": "MedicationRequest",
    "id": "home-oxy",
    "status": "active",
    "intent": "order",
    "subject": {"reference": f"Patient/{PID}"},
    "medicationCodeableConcept": {
        "coding": [
            {
                "system": RXNORM,
                "code": "1049221",
                "display": "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
            }
        ]
    },
}


def call(client: TestClient, signer: Signer, body: dict[str, Any]) -> Any:
    path = "/cds-services/ldn-order-sign"
    token = signer.token(BASE_URL + path)
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_discovery_asks_for_referenced_medications_and_statements(
    client: TestClient, signer: Signer
) -> None:
    token = signer.token(BASE_URL + "/cds-services")
    found = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).json()
    for service in found["services"]:
        templates = service["prefetch"]
        assert "_include=MedicationRequest:medication" in templates["medications"]
        assert templates["statements"].startswith("MedicationStatement?patient=")
        assert "_include=MedicationStatement:medication" in templates["statements"]


def test_a_contained_naltrexone_order_for_a_patient_on_oxycodone_is_critical(
    client: TestClient, signer: Signer
) -> None:
    body = hook_request(
        "order-sign", PID, prefetch(HOME_OXYCODONE), [draft(CONTAINED_NALTREXONE, 4.5)]
    )
    cards = call(client, signer, body).json()["cards"]
    assert cards[0]["indicator"] == "critical"
    assert "MedicationRequest/home-oxy" in cards[0]["detail"]


@pytest.mark.parametrize(
    "medication",
    [
        {"medicationCodeableConcept": {"text": "methylnaltrexone bromide 150 MG Oral Tablet"}},
        {"medicationCodeableConcept": {"text": "Contrave"}},
    ],
    ids=["methylnaltrexone", "naltrexone-bupropion"],
)
def test_other_drugs_get_no_cards(
    client: TestClient, signer: Signer, medication: dict[str, Any]
) -> None:
    body = hook_request("order-sign", PID, prefetch(HOME_OXYCODONE), [draft(medication, 50)])
    response = call(client, signer, body)
    assert response.status_code == 200 and response.json() == {"cards": []}


@pytest.mark.parametrize(
    "medication",
    [
        {"medicationReference": {"reference": "Medication/not-sent"}},
        {},
    ],
    ids=["unresolved-reference", "no-medication"],
)
def test_a_draft_whose_medicine_cannot_be_read_is_said_not_passed(
    client: TestClient, signer: Signer, medication: dict[str, Any]
) -> None:
    """Nothing names the medicine (it could be naltrexone, with an opioid on record): a warning
    says it was not checked; the service used to answer no cards at all."""
    body = hook_request("order-sign", PID, prefetch(HOME_OXYCODONE), [draft(medication, 4.5)])
    cards = call(client, signer, body).json()["cards"]
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "could not be identified" in cards[0]["summary"]
    assert "MedicationRequest/ltx-draft" in cards[0]["detail"]


def test_a_medication_list_with_more_pages_than_were_sent_is_said_to_be_incomplete(
    client: TestClient, signer: Signer
) -> None:
    """The EHR sent the first page of the patient's orders only: an opioid on a later page would
    go unseen, so a warning says the medicine check is incomplete."""
    body = hook_request("order-sign", PID, prefetch(), [draft(CONTAINED_NALTREXONE, 4.5)])
    body["prefetch"]["medications"] = {
        **searchset(),
        "link": [{"relation": "next", "url": "https://ehr.example/fhir/MedicationRequest?page=2"}],
    }
    body["prefetch"]["statements"] = searchset()
    cards = call(client, signer, body).json()["cards"]
    incomplete = [c for c in cards if "not all MedicationRequest records" in c["summary"]]
    assert [c["indicator"] for c in incomplete] == ["warning"]
    del body["prefetch"]["medications"]["link"]
    cards = call(client, signer, body).json()["cards"]
    assert not [c for c in cards if "not all" in c["summary"]]


def test_one_50_mg_tablet_gets_a_dose_card_whose_suggestion_is_a_compounded_order(
    client: TestClient, signer: Signer
) -> None:
    tablet = {
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": RXNORM,
                    "code": "1483744",
                    "display": "naltrexone hydrochloride 50 MG Oral Tablet",
                }
            ]
        }
    }
    order = draft(tablet, 1, "tablet", dispenseRequest={"quantity": {"value": 30}})
    cards = call(client, signer, hook_request("order-sign", PID, prefetch(), [order])).json()
    warning = next(c for c in cards["cards"] if c["indicator"] == "warning")
    assert "50 mg/day" in warning["summary"]
    (action,) = warning["suggestions"][0]["actions"]
    assert action["type"] == "update"
    resource = action["resource"]
    validate_medication_request(resource)
    assert resource["id"] == "ltx-draft"
    assert "compounded" in resource["medicationCodeableConcept"]["text"]
    assert resource["dispenseRequest"]["quantity"]["code"] == "{capsule}"
    assert "1483744" not in json.dumps(resource)


def test_missing_medication_statements_are_said_in_a_card(
    client: TestClient, signer: Signer
) -> None:
    data = prefetch()
    del data["statements"]
    body = hook_request("order-sign", PID, data, [draft(CONTAINED_NALTREXONE, 4.5)])
    cards = call(client, signer, body).json()["cards"]
    assert any("MedicationStatement" in c["summary"] for c in cards)


def test_a_prefetched_patient_who_is_not_the_context_patient_is_refused(
    client: TestClient, signer: Signer
) -> None:
    body = hook_request(
        "order-sign", PID, prefetch(patient_id="someone-else"), [draft(CONTAINED_NALTREXONE, 4.5)]
    )
    response = call(client, signer, body)
    assert response.status_code == 400
    problem = response.json()
    assert "someone-else" in problem["detail"] and PID in problem["detail"]
    assert problem["patient_id"] == "someone-else" and problem["context_patient_id"] == PID


NALTREXONE_MEDICATION = {
    "resourceType": "Medication",
    "id": "ntx",
    "code": {"coding": [{"system": RXNORM, "code": "7243", "display": "naltrexone"}]},
}


@pytest.fixture()
def wrong_patient_server() -> Iterator[str]:
    """A FHIR server that answers Patient reads with another patient, and holds one
    Medication (naltrexone); every search finds nothing."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if "/Patient/" in self.path:
                body: dict[str, Any] = {"resourceType": "Patient", "id": "not-you"}
            elif self.path.endswith("/Medication/ntx"):
                body = NALTREXONE_MEDICATION
            else:
                body = {"resourceType": "Bundle", "type": "searchset", "entry": []}
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/fhir"
    finally:
        server.shutdown()


def test_a_fetched_patient_who_is_not_the_context_patient_is_refused(
    wrong_patient_server: str,
) -> None:
    body = {
        "context": {"patientId": PID},
        "fhirServer": wrong_patient_server,
        "fhirAuthorization": {
            "access_token": "t",
            "token_type": "Bearer",
            "expires_in": 60,
            "scope": "user/*.read",
            "subject": "ldn",
        },
    }
    with pytest.raises(PatientMismatchError) as caught:
        asyncio.run(
            gather(
                services()["ldn-order-sign"],
                body,
                2.0,
                allowed_servers=(wrong_patient_server + "/",),
            )
        )
    assert not caught.value.prefetched  # 412 at the route: this patient's data was not obtained
    assert "not-you" in str(caught.value) and PID in str(caught.value)


def test_a_medication_the_draft_references_is_read_from_the_fhir_server(
    tmp_path: Path, wrong_patient_server: str
) -> None:
    # a --dev server reads only a fhirServer that a fhir_servers list names
    settings = load_settings(
        data_dir=tmp_path,
        dev=True,
        host="127.0.0.1",
        trusted_issuers=("https://dev-ehr.example",),
        fhir_servers=(wrong_patient_server,),
    )
    dev_client = TestClient(create_app(settings))
    order = draft({"medicationReference": {"reference": "Medication/ntx"}}, 50)
    body = hook_request(
        "order-sign",
        PID,
        prefetch(HOME_OXYCODONE),
        [order],
        fhirServer=wrong_patient_server,
        fhirAuthorization={
            "access_token": "t",
            "token_type": "Bearer",
            "expires_in": 60,
            "scope": "user/*.read",
            "subject": "ldn",
        },
    )
    cards = dev_client.post("/cds-services/ldn-order-sign", json=body).json()["cards"]
    assert cards[0]["indicator"] == "critical"  # naltrexone, read from the server, with oxycodone
    assert any("50 mg/day" in c["summary"] for c in cards)
    # without a server to ask, the unresolved reference is not taken for naltrexone, but the
    # clinician is told that the order's medicine could not be read, so nothing was checked
    del body["fhirServer"], body["fhirAuthorization"]
    cards = dev_client.post("/cds-services/ldn-order-sign", json=body).json()["cards"]
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "could not be identified" in cards[0]["summary"]


def test_an_order_set_over_the_draft_cap_is_refused_with_a_400(
    client: TestClient, signer: Signer
) -> None:
    """Each LDN draft is judged against every other: 3,000 of them held the server for minutes.
    Past MAX_DRAFT_ORDERS the call is refused, naming the field; at the cap it is answered."""
    from ldn_derm.web.cds.models import MAX_DRAFT_ORDERS

    orders = [
        {**draft(CONTAINED_NALTREXONE, 4.5), "id": f"d{i}"} for i in range(MAX_DRAFT_ORDERS + 1)
    ]
    answer = call(client, signer, hook_request("order-sign", PID, prefetch(), orders))
    assert answer.status_code == 400
    assert "context.draftOrders.entry" in answer.text
    answer = call(client, signer, hook_request("order-sign", PID, prefetch(), orders[:5]))
    assert answer.status_code == 200 and answer.json()["cards"]
