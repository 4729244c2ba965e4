"""REST API and pages for assessment: FHIR bundle upload or the manual profile."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from web_helpers import synthea_bundle


def test_assess_synthea_bundle_finds_the_opioid(dev_client: TestClient) -> None:
    response = dev_client.post("/api/v1/assess", json={"bundle": synthea_bundle("Chet_Thompson")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["candidacy"]["status"] == "contraindicated"
    opioid = [f for f in result["findings"] if "opioid" in f["code"]]
    assert opioid and opioid[0]["severity"] == "contraindicated"
    assert any(t.startswith("MedicationRequest/") for t in opioid[0]["triggered_by"])
    cited = {r for f in result["findings"] for r in f["references"]}
    assert cited <= {r["id"] for r in result["references"]}
    assert result["comparators"] and all("drug_class" in c for c in result["comparators"])


def test_assess_manual_profile(dev_client: TestClient) -> None:
    ok = dev_client.post(
        "/api/v1/assess",
        json={"profile": {"age": 40, "sex": "female", "conditions": ["psoriasis"]}},
    ).json()
    assert ok["candidacy"]["status"].startswith("candidate")
    assert [e["id"] for e in ok["evidence"]] == ["psoriasis"]
    blocked = dev_client.post(
        "/api/v1/assess",
        json={"profile": {"conditions": ["psoriasis"], "medications": ["tramadol"]}},
    ).json()
    assert blocked["candidacy"]["status"] == "contraindicated"


def test_assess_rejects_a_non_bundle(dev_client: TestClient) -> None:
    response = dev_client.post("/api/v1/assess", json={"bundle": {"resourceType": "Patient"}})
    assert response.status_code == 422
    assert "Bundle" in response.json()["detail"]


def test_upload_page_shows_the_opioid_finding(dev_client: TestClient) -> None:
    raw = json.dumps(synthea_bundle("Chet_Thompson")).encode()
    response = dev_client.post(
        "/ui/assess/upload",
        files={"bundle": ("chet.json", raw, "application/json")},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert 'data-severity="contraindicated"' in response.text
    assert "oxycodone" in response.text.lower()
    bad = dev_client.post(
        "/ui/assess/upload",
        files={"bundle": ("x.json", b"{nope", "application/json")},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and "not valid JSON" in bad.text


def test_form_page_accepts_codes_and_names(dev_client: TestClient) -> None:
    response = dev_client.post(
        "/ui/assess/form",
        data={"age": "52", "sex": "male", "conditions": "L40.0\nitch", "medications": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.text
    assert "Psoriasis" in response.text


def test_comparison_has_an_ldn_row_and_every_baseline(dev_client: TestClient) -> None:
    page = dev_client.post(
        "/ui/assess/form",
        data={"age": "61", "sex": "male", "conditions": "L40.0", "medications": ""},
        headers={"HX-Request": "true"},
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="option-ldn" data-kind="ldn"' in html
    assert 'id="option-tnf-inhibitors"' in html and "latent TB" in html
    assert "Hepatitis B screening before starting" in html  # shown with no history of it
    result = dev_client.post(
        "/api/v1/assess",
        json={"profile": {"age": 30, "sex": "female", "conditions": ["psoriasis"]}},
    ).json()
    assert result["comparators"][0]["id"] == "ldn"
    cited = {r for c in result["comparators"] for b in c["baseline"] for r in b["references"]}
    assert cited and cited <= {r["id"] for r in result["references"]}
    acitretin = next(c for c in result["comparators"] if c["id"] == "acitretin")
    flags = {f["code"]: f["severity"] for f in acitretin["flags"]}
    assert flags["acitretin-childbearing-potential"] == "contraindicated"


def test_a_body_that_is_not_sent_as_json_is_415_not_a_field_error(
    dev_client: TestClient,
) -> None:
    answer = dev_client.post(
        "/api/v1/assess",
        content=b'{"profile": {"sex": "female"}}',
        headers={"content-type": "text/plain"},
    )
    assert answer.status_code == 415
    assert "application/json" in answer.json()["detail"]
    sent_as_json = dev_client.post("/api/v1/assess", json={"profile": "nonsense"})
    assert sent_as_json.status_code in (400, 422)
