"""SMART App Launch against the real SMART launcher (HTTP level, no browser): EHR and
standalone launch, public and confidential client, and every refusal a clinician may meet."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from launcher import encode_launch

from conftest import CLIENT_ID, SECRET, SmartBed

pytestmark = pytest.mark.timeout(180)


def _follow(client: httpx.Client, url: str, stop_at: str | None = None) -> httpx.Response:
    """Follow redirects across the app and the launcher (the browser's part), optionally
    stopping before a URL that starts with `stop_at`."""
    for _ in range(15):
        if stop_at and url.startswith(stop_at):
            return httpx.Response(399, headers={"location": url})
        response = client.get(url)
        if response.status_code not in {301, 302, 303, 307}:
            return response
        url = str(response.url.join(response.headers["location"]))
    raise AssertionError("too many redirects")


def _ehr_launch(bed: SmartBed, app: str, **options: Any) -> str:
    launch = encode_launch("provider-ehr", **options)
    return f"{app}/smart/launch?iss={quote(bed.iss, safe='')}&launch={launch}"


def test_ehr_launch_through_the_launcher_opens_the_assessment(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Chet")
    with httpx.Client(timeout=30) as client:
        # the launcher's own EHR-launch entry point builds iss and launch, as an EHR would
        start = (
            f"{smart_bed.launcher}/launcher?fhir_ver=4&patient={pid}&provider=p1"
            f"&launch_uri={quote(smart_bed.app + '/smart/launch', safe='')}"
        )
        page = _follow(client, start)
    assert page.status_code == 200, page.text[:500]
    assert str(page.url).startswith(f"{smart_bed.app}/smart/p/")
    text = page.text
    assert "Chet" in text and 'id="patient-banner"' in text
    assert "Not a candidate now" in text  # the verdict: an opioid in his record
    assert "oxycodone" in text.lower()
    assert page.headers["cache-control"] == "no-store"
    # the tokens never reach the browser: only an opaque session cookie
    assert set(client.cookies.keys()) == {"ldn_smart_session"}
    assert "access_token" not in text and "Bearer" not in text


def test_standalone_launch_with_iss_alone(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Eliseo")
    sim = encode_launch("provider-standalone", patient=pid, provider="p1")
    iss = f"{smart_bed.launcher}/v/r4/sim/{sim}/fhir"
    with httpx.Client(timeout=30) as client:
        page = _follow(client, f"{smart_bed.app}/smart/launch?iss={quote(iss, safe='')}")
    assert page.status_code == 200, page.text[:500]
    assert "Eliseo" in page.text and "Assessment" in page.text


def test_authorization_request_is_pkce_s256_with_state_and_narrow_scopes(
    smart_bed: SmartBed,
) -> None:
    with httpx.Client(timeout=30) as client:
        response = client.get(_ehr_launch(smart_bed, smart_bed.app, patient="x"))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"][0])
    assert len(query["state"][0]) >= 20
    assert query["aud"] == [smart_bed.iss]
    assert query["client_id"] == [CLIENT_ID]
    scopes = set(query["scope"][0].split())
    assert "launch" in scopes and "patient/Observation.rs" in scopes
    assert not any(s.startswith(("user/", "system/")) or s.endswith(".*") for s in scopes)


def test_confidential_client_authenticates_with_its_secret(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Chet")
    url = _ehr_launch(
        smart_bed, smart_bed.app_confidential, patient=pid, provider="p1",
        client_type="confidential-symmetric", client_secret=SECRET,
    )  # fmt: skip
    with httpx.Client(timeout=30) as client:
        page = _follow(client, url)
    assert page.status_code == 200 and "patient-banner" in page.text
    # and a confidential client with the wrong secret is refused by the launcher
    url = _ehr_launch(
        smart_bed, smart_bed.app_confidential, patient=pid, provider="p1",
        client_type="confidential-symmetric", client_secret="another",
    )  # fmt: skip
    with httpx.Client(timeout=30) as client:
        page = _follow(client, url)
    assert page.status_code == 400
    assert "refused to give the app access" in page.text


def _callback_url(client: httpx.Client, bed: SmartBed, **options: Any) -> str:
    """Run the launch up to the EHR's redirect to /smart/callback; that URL, not yet called."""
    url = _ehr_launch(bed, bed.app, **options)
    response = _follow(client, url, stop_at=bed.app + "/smart/callback")
    assert response.status_code == 399, response.text[:300]
    return response.headers["location"]


def test_wrong_state_is_refused(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Chet")
    with httpx.Client(timeout=30) as client:
        url = _callback_url(client, smart_bed, patient=pid, provider="p1")
        forged = re.sub(r"state=[^&]+", "state=forged-state-value-000000", url)
        page = client.get(forged)
        assert page.status_code == 400
        assert "This launch has expired or was not started here" in page.text
        assert "Traceback" not in page.text


def test_replayed_code_is_refused(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Chet")
    with httpx.Client(timeout=30) as client:
        url = _callback_url(client, smart_bed, patient=pid, provider="p1")
        first = client.get(url)
        assert first.status_code == 303
        replay = client.get(url)
    assert replay.status_code == 400
    assert "already used" in replay.text


def test_denied_scope_gives_a_page_that_says_so(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Chet")
    # the EHR's registration allows this client to read Patient only
    allowed = "launch openid fhirUser patient/Patient.rs"
    with httpx.Client(timeout=30) as client:
        url = _ehr_launch(smart_bed, smart_bed.app, patient=pid, provider="p1", scope=allowed)
        page = _follow(client, url)
    assert page.status_code == 403
    assert "Access to the record was not granted" in page.text
    assert "invalid_scope" in page.text


def test_denied_consent_gives_a_page_that_says_so(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Chet")
    with httpx.Client(timeout=30) as client:
        url = _callback_url(client, smart_bed, patient=pid, provider="p1")
        state = parse_qs(urlsplit(url).query)["state"][0]
        # RFC 6749 §4.1.2.1: the user said no at the EHR's consent screen
        page = client.get(f"{smart_bed.app}/smart/callback?error=access_denied&state={state}")
    assert page.status_code == 403
    assert "Access to the record was not granted" in page.text


def test_issuer_not_on_the_list_is_refused(smart_bed: SmartBed) -> None:
    with httpx.Client(timeout=30) as client:
        page = client.get(
            f"{smart_bed.app}/smart/launch?iss=https%3A%2F%2Fehr.example.org%2Ffhir&launch=abc"
        )
    assert page.status_code == 403
    assert "This EHR is not allowed to open the app" in page.text
    assert "ehr.example.org" in page.text


def test_expired_token_gives_a_page_that_says_so(smart_bed: SmartBed) -> None:
    import time

    from ldn_derm.web.smart import store

    pid = smart_bed.patient_id("Chet")
    with httpx.Client(timeout=30) as client:
        page = _follow(client, _ehr_launch(smart_bed, smart_bed.app, patient=pid, provider="p1"))
        assert page.status_code == 200
        launch_id = urlsplit(str(page.url)).path.rsplit("/", 1)[1]
        session_id = client.cookies["ldn_smart_session"]
        data = store.load_session(smart_bed.engine, session_id)
        assert data is not None
        assert data["launches"][launch_id]["refresh_token"] is None  # none was granted

        def token_ended(data: dict[str, Any]) -> None:
            data["launches"][launch_id]["expires_at"] = int(time.time()) - 1

        assert store.update_session(smart_bed.engine, session_id, token_ended)
        page = client.get(str(page.url))
    assert page.status_code == 401
    assert "Your session with the EHR has ended" in page.text
    assert "access token for this launch has expired" in page.text


def test_a_token_the_fhir_server_refuses_ends_the_session(smart_bed: SmartBed) -> None:
    import asyncio

    from ldn_derm.web.smart.errors import SessionExpiredError
    from ldn_derm.web.smart.oauth import requested_scopes
    from ldn_derm.web.smart.record import read_record

    pid = smart_bed.patient_id("Chet")
    with pytest.raises(SessionExpiredError):  # the launcher's proxy answers 401
        asyncio.run(
            read_record(smart_bed.iss, "not-a-valid-token", pid, requested_scopes(True), 10)
        )


def test_unknown_patient_gives_a_page_that_says_so(smart_bed: SmartBed) -> None:
    with httpx.Client(timeout=30) as client:
        url = _ehr_launch(smart_bed, smart_bed.app, patient="no-such-patient", provider="p1")
        page = _follow(client, url)
    assert page.status_code == 404
    assert "The patient could not be found" in page.text


def test_launch_pages_without_a_session_are_refused(smart_bed: SmartBed) -> None:
    with httpx.Client(timeout=30) as client:
        page = client.get(f"{smart_bed.app}/smart/p/some-launch")
        assert page.status_code == 401
        assert "Your session with the EHR has ended" in page.text
        page = client.get(f"{smart_bed.app}/smart/callback?code=x&state=y")
        assert page.status_code == 400


def test_prescribe_carries_the_patient_and_saves_a_draft(smart_bed: SmartBed) -> None:
    pid = smart_bed.patient_id("Eliseo")
    with httpx.Client(timeout=30) as client:
        page = _follow(client, _ehr_launch(smart_bed, smart_bed.app, patient=pid, provider="p1"))
        launch_path = urlsplit(str(page.url)).path
        form_page = client.get(f"{smart_bed.app}{launch_path}/prescribe")
        assert form_page.status_code == 200 and "Eliseo" in form_page.text
        form = {"condition": "psoriasis", "target_mg": "4.5", "days": "30"}
        preview = client.post(f"{smart_bed.app}{launch_path}/ui/prescribe", data=form)
        # his record holds hydrocodone: the prescription is blocked without a recorded reason
        assert preview.status_code == 422
        assert "prescription blocked" in preview.text and "Hydrocodone" in preview.text
        form["override_reason"] = "opioid stopped last month; confirmed with the patient"
        preview = client.post(f"{smart_bed.app}{launch_path}/ui/prescribe", data=form)
        assert preview.status_code == 200, re.findall(r"problem-detail\">([^<]*)", preview.text)
        assert "Save as a draft order in the EHR" in preview.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', preview.text)
        assert csrf is not None
        saved = client.post(
            f"{smart_bed.app}{launch_path}/medication-request",
            data={**form, "csrf_token": csrf.group(1)},
        )
        assert saved.status_code == 200
        assert "Saved in the EHR as a draft MedicationRequest" in saved.text
        forged = client.post(
            f"{smart_bed.app}{launch_path}/medication-request",
            data={**form, "csrf_token": "forged"},
        )
        assert forged.status_code == 403
    created = smart_bed.fhir.created[-1]
    assert created["resourceType"] == "MedicationRequest"
    assert created["status"] == "draft"
    assert created["subject"] == {"reference": f"Patient/{pid}"}


def test_a_deceased_patient_is_never_offered_a_prescription(smart_bed: SmartBed) -> None:
    """Chet's record gives a date of death (1968): no prescribe link, the form says why, and a
    posted prescription is refused even with a reason (no override lifts a recorded death)."""
    pid = smart_bed.patient_id("Chet")
    with httpx.Client(timeout=30) as client:
        page = _follow(client, _ehr_launch(smart_bed, smart_bed.app, patient=pid, provider="p1"))
        assert page.status_code == 200, page.text[:500]
        assert 'id="no-prescribe"' in page.text and 'id="prescribe-for-patient"' not in page.text
        launch_path = urlsplit(str(page.url)).path
        form_page = client.get(f"{smart_bed.app}{launch_path}/prescribe")
        assert 'id="patient-refused"' in form_page.text
        assert "No prescription can be built for this record" in form_page.text
        form = {
            "condition": "psoriasis",
            "target_mg": "4.5",
            "days": "30",
            "override_reason": "patient seen alive in clinic today",
        }
        preview = client.post(f"{smart_bed.app}{launch_path}/ui/prescribe", data=form)
    assert preview.status_code == 422
    assert "prescription refused" in preview.text and "No override lifts this" in preview.text
    assert "Save as a draft order in the EHR" not in preview.text


def test_a_callback_without_a_code_asks_for_no_token(smart_bed: SmartBed) -> None:
    """With a valid state but no code, the OAuth library guessed another grant type and sent a
    client_credentials request with the client's secret; no token request is made now."""
    pid = smart_bed.patient_id("Chet")
    with httpx.Client(timeout=30) as client:
        url = _callback_url(client, smart_bed, patient=pid, provider="p1")
        without_code = re.sub(r"([?&])code=[^&]*&?", r"\1", url)
        assert "code=" not in without_code
        page = client.get(without_code)
    assert page.status_code == 400
    assert "no authorization code" in page.text and "Traceback" not in page.text
