"""REST API and pages for prescribing: regimen, MedicationRequest, handout PDF."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

TITRATION: dict[str, Any] = {
    "condition": "psoriasis",
    "start_mg": 1.5,
    "target_mg": 4.5,
    "step_mg": 1.5,
    "interval_days": 7,
}


def test_prescribe_returns_schedule_and_medication_request(dev_client: TestClient) -> None:
    response = dev_client.post("/api/v1/prescribe", json=TITRATION)
    assert response.status_code == 200, response.text
    rx = response.json()
    assert [s["dose_mg"] for s in rx["schedule"]["steps"]] == [1.5, 3.0, 4.5]
    assert rx["medication_request"]["resourceType"] == "MedicationRequest"
    assert rx["condition"]["id"] == "psoriasis"
    assert rx["monitoring"]["references"]


def test_medication_request_download(dev_client: TestClient) -> None:
    response = dev_client.post("/api/v1/prescribe/medication-request", json=TITRATION)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert "attachment" in response.headers["content-disposition"]
    assert response.json()["resourceType"] == "MedicationRequest"


def test_handout_pdf(dev_client: TestClient) -> None:
    response = dev_client.post("/api/v1/prescribe/handout.pdf", json=TITRATION)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_dose_outside_low_dose_range_is_a_clear_422(dev_client: TestClient) -> None:
    response = dev_client.post(
        "/api/v1/prescribe", json={"condition": "psoriasis", "target_mg": 45}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("#invalid-input")
    assert "45" in body["detail"] and "low-dose" in body["detail"]


def test_unknown_condition_is_404(dev_client: TestClient) -> None:
    response = dev_client.post("/api/v1/prescribe", json={"condition": "gout", "target_mg": 3})
    assert response.status_code == 404
    assert response.json()["type"].endswith("#unknown-condition")


def test_prescribe_page_htmx_preview_and_downloads(dev_client: TestClient) -> None:
    form = {k: str(v) for k, v in TITRATION.items()} | {"preset": "", "days": "90"}
    # htmx and the no-JavaScript post get the same answer page (htmx swaps its #content)
    for headers in ({"HX-Request": "true"}, {}):
        page = dev_client.post("/ui/prescribe", data=form, headers=headers)
        assert page.status_code == 200
        assert 'id="schedule"' in page.text and 'id="verdict"' in page.text
        assert page.text.index('id="verdict"') < page.text.index('id="prescribe-form"')
        assert 'id="monitoring"' in page.text  # the monitoring plan, cited, on the page
    rx_pdf = dev_client.post("/ui/prescribe/prescription.pdf", data=form)
    assert rx_pdf.content.startswith(b"%PDF-")
    assert "ldn-prescription.pdf" in rx_pdf.headers["content-disposition"]
    pdf = dev_client.post("/ui/prescribe/handout.pdf", data=form)
    assert pdf.content.startswith(b"%PDF-")
    resource = dev_client.post("/ui/prescribe/medication-request.json", data=form).json()
    assert resource["resourceType"] == "MedicationRequest"
    bad = dev_client.post(
        "/ui/prescribe", data={**form, "target_mg": "45"}, headers={"HX-Request": "true"}
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    assert "misplaced decimal point" in bad.text  # the core's message, shown
    assert bad.text.index('id="problem"') < bad.text.index('id="prescribe-form"')


def test_prescribing_for_an_opioid_user_is_blocked_without_a_reason(
    dev_client: TestClient,
) -> None:
    from web_helpers import synthea_bundle

    bundle = synthea_bundle("Eliseo_Cummings")  # an active opioid order
    blocked = dev_client.post("/api/v1/prescribe", json={**TITRATION, "bundle": bundle})
    assert blocked.status_code == 422
    assert blocked.json()["type"].endswith("#blocked")
    assert "opioid" in blocked.json()["detail"].lower()
    died = synthea_bundle("Chet_Thompson")  # active oxycodone, and a date of death
    first = dev_client.post("/api/v1/prescribe", json={**TITRATION, "bundle": died})
    assert first.status_code == 422
    assert "has died" in first.json()["detail"]  # the death is named first
    reason = "Opioid stopped yesterday; patient informed of the risk."
    allowed = dev_client.post(
        "/api/v1/prescribe", json={**TITRATION, "bundle": bundle, "override_reason": reason}
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["override_reason"] == reason


def test_named_overrides_through_the_api(dev_client: TestClient) -> None:
    """The same checks as the CLI: evidence acknowledged by name, a placeholder refused, the
    standard dose never covering 6 mg, fills within the beyond-use date."""
    body = {**TITRATION, "condition": "uremic-pruritus"}
    refused = dev_client.post("/api/v1/prescribe", json=body)
    assert refused.status_code == 422 and "'evidence'" in refused.json()["detail"]
    x = dev_client.post("/api/v1/prescribe", json={**body, "overrides": {"evidence": "x"}})
    assert x.status_code == 422 and "placeholder" in x.json()["detail"]
    reason = "renal team asked for a low-dose trial; patient informed"
    ok = dev_client.post("/api/v1/prescribe", json={**body, "overrides": {"evidence": reason}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["overrides"] == {"evidence": reason}
    assert ok.json()["evidence"]["level"] == "higher-dose-only"
    six = dev_client.post("/api/v1/prescribe", json={**TITRATION, "target_mg": 6})
    assert six.status_code == 422 and "above-low-dose" in six.json()["detail"]
    liquid = dev_client.post("/api/v1/prescribe", json={**TITRATION, "form": "liquid"})
    dispense = liquid.json()["medication_request"]["dispenseRequest"]
    assert dispense["numberOfRepeatsAllowed"] == 1 and "initialFill" in dispense


def test_a_liquid_concentration_is_used_in_mg_per_ml(dev_client: TestClient) -> None:
    """The field is mg/mL; it was passed on as a bare number ('2.5'), which the core refused
    as not a mass per volume: no concentration but the default could ever be chosen."""
    answer = dev_client.post(
        "/api/v1/prescribe", json={**TITRATION, "form": "liquid", "concentration_mg_per_ml": 2.5}
    )
    assert answer.status_code == 200, answer.text
    assert "2.5 mg/mL" in str(answer.json()["medication_request"])
