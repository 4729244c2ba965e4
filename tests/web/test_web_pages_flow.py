"""The pages answer first and show their errors; the assessed patient is carried into
Prescribe with the same block-or-override as the CLI; LDN at a glance; pages for browsers."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from web_helpers import synthea_bundle

from ldn_derm.knowledge import get_knowledge
from ldn_derm.knowledge.monograph import QUESTIONS, monograph_questions

HTMX = {"HX-Request": "true"}


def _token(html: str) -> str:
    found = re.search(r'name="patient_token" value="([^"]+)"', html)
    assert found is not None, "the answer carries the assessed record"
    return found.group(1)


def _upload(client: TestClient, name: str) -> str:
    raw = json.dumps(synthea_bundle(name)).encode()
    page = client.post(
        "/ui/assess/upload", files={"bundle": (f"{name}.json", raw, "application/json")}
    )
    assert page.status_code == 200, page.text[:500]
    return page.text


def test_the_verdict_comes_first_with_the_banner_and_takes_the_focus(
    dev_client: TestClient,
) -> None:
    html = _upload(dev_client, "Chet_Thompson")
    banner, verdict, form = (
        html.index('id="patient-banner"'),
        html.index('id="verdict"'),
        html.index('id="upload-form"'),
    )
    assert banner < verdict < form  # who, then the answer, then the (folded) form
    assert re.search(r'id="verdict" tabindex="-1"\s+autofocus', html)
    assert '<details class="form-summary' in html  # the form folded into a summary
    assert "Chet" in html[banner:verdict]  # the name from the record, not a UUID only
    assert "born " in html[banner:verdict]


def test_a_deceased_patient_is_shown_first_in_the_banner(dev_client: TestClient) -> None:
    bundle = synthea_bundle("Chet_Thompson")
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["deceasedDateTime"] = "2020-01-02T00:00:00Z"
    page = dev_client.post(
        "/ui/assess/upload",
        files={"bundle": ("dead.json", json.dumps(bundle).encode(), "application/json")},
    )
    html = page.text
    start = html.index('id="patient-banner"')
    assert html.index("deceased-flag", start) < html.index("patient-name", start)
    assert "Deceased 2020-01-02" in html
    assert 'id="no-prescribe"' in html and 'id="prescribe-for-patient"' not in html
    # the API, given the same record and a reason, refuses too: no override lifts a death
    body = {"condition": "psoriasis", "target_mg": 4.5, "days": 30, "bundle": bundle,
            "override_reason": "seen alive in clinic this morning"}  # fmt: skip
    refused = dev_client.post("/api/v1/prescribe", json=body)
    assert refused.status_code == 422, refused.text[:300]
    assert "No override lifts this" in refused.json()["detail"]


def test_contraindicated_patient_is_carried_into_prescribe_and_blocked(
    dev_client: TestClient,
) -> None:
    html = _upload(dev_client, "Eliseo_Cummings")  # an active opioid order
    token = _token(html)
    assert "Prescribe despite the contraindication" in html
    form_page = dev_client.post(
        "/prescribe", data={"patient_token": token, "condition": "psoriasis"}
    )
    assert form_page.status_code == 200
    assert 'id="patient-banner"' in form_page.text and "Eliseo" in form_page.text
    assert 'id="patient-blockers"' in form_page.text  # not a blank, unblocked form
    form = {
        "patient_token": token,
        "condition": "psoriasis",
        "target_mg": "4.5",
        "days": "30",
    }
    blocked = dev_client.post("/ui/prescribe", data=form, headers=HTMX)
    assert blocked.status_code == 422
    assert 'id="problem"' in blocked.text and "Refused for a clinical reason" in blocked.text
    assert "override" in blocked.text.lower()
    form["override_contraindication"] = "opioid stopped last month; confirmed with the patient"
    done = dev_client.post("/ui/prescribe", data=form, headers=HTMX)
    assert done.status_code == 200, done.text[:800]
    assert "Overrides recorded" in done.text and "confirmed with the patient" in done.text
    pdf = dev_client.post("/ui/prescribe/prescription.pdf", data=form)
    assert pdf.content.startswith(b"%PDF-")
    # the same record without the reason cannot be downloaded either
    del form["override_contraindication"]
    refused = dev_client.post("/ui/prescribe/handout.pdf", data=form)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")


def test_a_changed_or_foreign_record_is_refused(dev_client: TestClient) -> None:
    html = _upload(dev_client, "Eliseo_Cummings")
    token = _token(html)
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    page = dev_client.post(
        "/ui/prescribe",
        data={"patient_token": forged, "condition": "psoriasis", "target_mg": "4.5"},
    )
    assert page.status_code == 422
    assert "not issued by this server or was changed" in page.text


def test_prescribe_without_a_record_says_nothing_was_checked(dev_client: TestClient) -> None:
    page = dev_client.get("/prescribe?condition=psoriasis")
    assert 'id="no-patient"' in page.text and "assess the patient first" in page.text


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"bundle": ("scan.pdf", b"%PDF-1.7 ...", "application/pdf")}, "is a PDF document"),
        ({"bundle": ("x.json", b"{nope", "application/json")}, "not valid JSON"),
        ({"bundle": ("list.json", b"[1, 2]", "application/json")}, "one JSON/YAML object"),
        ({"bundle": ("r.xml", b"<?xml version='1.0'?><Bundle/>", "text/xml")}, "XML"),
    ],
)
def test_upload_errors_are_shown_at_the_top(
    dev_client: TestClient, files: dict[str, tuple[str, bytes, str]], expected: str
) -> None:
    for headers in (HTMX, {}):  # htmx and the no-JavaScript path
        page = dev_client.post("/ui/assess/upload", files=files, headers=headers)
        assert page.status_code == 422
        html = page.text
        assert expected in html
        assert html.index('id="problem"') < html.index('id="upload-form"')
        assert re.search(r'id="problem-title" tabindex="-1" autofocus', html)


@pytest.mark.parametrize(
    ("data", "expected", "forbidden"),
    [
        ({"age": "-3"}, "Age (years) must be at least 0", "greater than"),
        ({"age": "abc"}, "Age (years) must be a whole number", "Input should"),
        ({"sex": "xml"}, "Sex must be one of", "Value error"),
    ],
)
def test_form_errors_are_written_for_clinicians(
    dev_client: TestClient, data: dict[str, str], expected: str, forbidden: str
) -> None:
    page = dev_client.post("/ui/assess/form", data={"conditions": "psoriasis", **data})
    assert page.status_code == 422
    assert expected in page.text and forbidden not in page.text


@pytest.mark.parametrize(
    ("doses", "expected"),
    [("abc", "is not a dose in mg"), ("500", "at most 100 mg"), (", ,", "at least one")],
)
def test_mechanism_errors_are_shown(dev_client: TestClient, doses: str, expected: str) -> None:
    page = dev_client.post("/ui/simulate", data={"doses_mg": doses, "subjects": "20"})
    assert page.status_code == 422
    assert expected in page.text and 'id="problem"' in page.text


def test_api_validation_messages_are_for_clinicians(dev_client: TestClient) -> None:
    r = dev_client.post("/api/v1/prescribe", json={"condition": "psoriasis", "bogus": 1})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "Extra inputs" not in detail and "Bogus is not something" in detail
    r = dev_client.post("/api/v1/prescribe", json={"condition": "psoriasis", "form": "xml"})
    assert "Form must be one of: capsule or liquid" in r.json()["detail"]
    r = dev_client.post(
        "/api/v1/prescribe", json={"condition": "psoriasis", "overrides": {"bogus": "x"}}
    )
    assert "'bogus' in Overrides must be one of: contraindication" in r.json()["detail"]


def test_monograph_answers_the_six_questions_with_citations(dev_client: TestClient) -> None:
    kb = get_knowledge()
    page = dev_client.get("/monograph")
    assert page.status_code == 200
    html = page.text
    for qid, question, _ in QUESTIONS:
        assert f'id="{qid}"' in html and question in html
    assert "TLR4" in html and "endorphin" in html.lower()  # how it works, from drug.yaml
    assert 'id="monograph-conditions"' in html  # when: low-dose apart from higher-dose
    assert "Improved only at higher doses" in html
    for comparator in kb.comparators.values():  # how it compares: every option
        assert comparator.name in html
    cited = set(re.findall(r'href="#ref-([^"]+)"', html))
    listed = set(re.findall(r'<li id="ref-([^"]+)"', html))
    assert cited and cited <= listed  # every citation resolves to a listed reference
    home = dev_client.get("/").text
    for qid, _, _ in QUESTIONS:  # each question one click from home
        assert f'href="/monograph#{qid}"' in home


def test_every_monograph_section_is_placed_once() -> None:
    kb = get_knowledge()
    placed = [s.id for q in monograph_questions(kb) for s in q.sections]
    assert len(placed) == len(set(placed))
    from ldn_derm.knowledge.monograph import monograph_sections

    assert set(placed) == {s.id for s in monograph_sections(kb)}


def test_unknown_page_is_a_page_for_browsers_and_json_for_clients(
    dev_client: TestClient,
) -> None:
    page = dev_client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no page at /no-such-page" in page.text
    api = dev_client.get("/api/v1/no-such", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    plain = dev_client.get("/no-such-page")
    assert plain.headers["content-type"] == "application/problem+json"
