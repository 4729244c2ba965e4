"""REST API: evidence, references, errors as problem details, body limits, pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ldn_derm.knowledge import get_knowledge
from ldn_derm.web.app import create_app
from ldn_derm.web.settings import load_settings


def test_ping_and_version(dev_client: TestClient) -> None:
    assert dev_client.get("/api/v1/ping").json() == {"status": "ok"}
    version = dev_client.get("/api/v1/version").json()
    assert version["knowledge_base"] == get_knowledge().meta.version


def test_evidence_matches_the_knowledge_base(dev_client: TestClient) -> None:
    kb = get_knowledge()
    cid = next(c for c in kb.conditions if kb.evidence_for(c))
    page = dev_client.get(f"/api/v1/evidence/{cid}").json()
    assert page["condition"]["id"] == cid
    assert {e["id"] for e in page["evidence"]} == {e.id for e in kb.evidence_for(cid)}
    cited = {r for e in page["evidence"] for r in e["references"]}
    assert {r["id"] for r in page["references"]} == cited
    listed = dev_client.get("/api/v1/evidence", params={"condition": cid}).json()
    assert [e["id"] for e in listed] == [e["id"] for e in page["evidence"]]


def test_conditions_and_references(dev_client: TestClient) -> None:
    kb = get_knowledge()
    conditions = dev_client.get("/api/v1/conditions").json()
    assert {c["id"] for c in conditions} == set(kb.conditions)
    refs = dev_client.get("/api/v1/references").json()
    assert {r["id"] for r in refs} == set(kb.references)
    one = refs[0]["id"]
    assert dev_client.get(f"/api/v1/references/{one}").json()["id"] == one


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/evidence/no-such-disease", 404),
        ("/api/v1/references/nope", 404),
        ("/api/v1/nothing-here", 404),
    ],
)
def test_errors_are_problem_details(dev_client: TestClient, path: str, status: int) -> None:
    response = dev_client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status"} <= set(body) and body["status"] == status


def test_validation_errors_name_the_field(dev_client: TestClient) -> None:
    response = dev_client.post("/api/v1/simulate", json={"doses_mg": [4.5], "days": 99})
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("#validation-error")
    assert "days" in body["detail"]
    response = dev_client.post("/api/v1/assess", json={"profile": {}, "bundle": {}})
    assert response.status_code == 422


def test_body_limit_rejects_before_reading(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, dev=True, max_body_bytes=2048)
    with TestClient(create_app(settings)) as c:
        big = b"{" + b" " * 5000 + b"}"
        response = c.post(
            "/api/v1/assess", content=big, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["type"].endswith("#payload-too-large")

        def chunks():  # no Content-Length: the limit must hold while streaming too
            for _ in range(10):
                yield b" " * 1000

        response = c.post(
            "/cds-services/ldn-order-sign",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413


def test_openapi_and_docs(dev_client: TestClient) -> None:
    schema = dev_client.get("/openapi.json").json()
    for path in (
        "/api/v1/assess",
        "/api/v1/evidence",
        "/api/v1/prescribe",
        "/api/v1/simulate",
        "/cds-services",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}/feedback",
    ):
        assert path in schema["paths"], path
    docs = dev_client.get("/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/" in docs.text
    assert dev_client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize("path", ["/", "/evidence", "/references", "/problems"])
def test_pages_render(dev_client: TestClient, path: str) -> None:
    response = dev_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert '<html lang="en">' in response.text


def test_evidence_page_lists_every_study(dev_client: TestClient) -> None:
    kb = get_knowledge()
    cid = next(c for c in kb.conditions if kb.evidence_for(c))
    html = dev_client.get(f"/evidence/{cid}").text
    for entry in kb.evidence_for(cid):
        assert f'id="ev-{entry.id}"' in html
    assert dev_client.get("/evidence/no-such-disease").status_code == 404


def test_evidence_page_marks_studies_above_the_low_dose_range(dev_client: TestClient) -> None:
    kb = get_knowledge()
    html = dev_client.get("/evidence/prurigo-nodularis").text
    assert "Studies of naltrexone in" in html and "Studies of low-dose" not in html
    standard = [e for e in kb.evidence_for("prurigo-nodularis") if kb.dose_class(e) == "standard"]
    assert standard and html.count("standard dose, not LDN") == len(standard)
    low = dev_client.get("/evidence/lichen-planopilaris").text
    assert "standard dose, not LDN" not in low


def test_htmx_is_vendored_with_its_license(dev_client: TestClient) -> None:
    js = dev_client.get("/static/vendor/htmx/htmx.min.js")
    assert js.status_code == 200 and "0BSD" in js.text[:300]


def test_every_page_footer_summarises_the_evidence_from_the_data(dev_client: TestClient) -> None:
    mix = get_knowledge().evidence_mix()
    for path in ("/", "/evidence", "/references", "/registry/login"):
        assert mix in dev_client.get(path).text, path


def test_evidence_index_and_api_keep_low_dose_and_higher_dose_counts_apart(
    dev_client: TestClient,
) -> None:
    html = dev_client.get("/evidence").text
    assert "Improved at a low (or unreported) dose" in html
    assert "Improved only at higher doses (not LDN)" in html
    assert "negative controlled trial at low dose" in html  # lichen planopilaris
    conditions = {c["id"]: c for c in dev_client.get("/api/v1/conditions").json()}
    ad = conditions["atopic-dermatitis-pruritus"]
    assert (ad["improved_low_dose"], ad["improved_higher_dose_only"]) == (0, 1)
    assert conditions["lichen-planopilaris"]["negative_controlled_low_dose"] == [
        "lpp-rct-2020-lichen-planopilaris"
    ]
    page = dev_client.get("/evidence/chronic-pruritus").text
    assert "Add-on, not naltrexone alone" in page
