"""SMART pieces without a server: scope checks, issuer allow-list, the banner, card links."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.errors import InputError
from ldn_derm.web.settings import load_settings
from ldn_derm.web.smart.banner import patient_banner
from ldn_derm.web.smart.oauth import READ_TYPES, granted, requested_scopes


@pytest.mark.parametrize(
    ("scope", "rtype", "perm", "expected"),
    [
        ("patient/Observation.rs", "Observation", "s", True),
        ("patient/Observation.rs", "Observation", "c", False),
        ("patient/Observation.r", "Observation", "s", False),
        ("patient/*.rs", "Condition", "r", True),
        ("patient/Condition.read", "Condition", "s", True),  # SMART v1
        ("patient/MedicationRequest.write", "MedicationRequest", "c", True),
        ("patient/MedicationRequest.cruds", "MedicationRequest", "c", True),
        ("patient/MedicationRequest.c", "MedicationRequest", "c", True),
        ("patient/Observation.rs?category=laboratory", "Observation", "s", True),
        ("launch openid fhirUser", "Patient", "r", False),
        ("patient/Patient.rs", "Condition", "r", False),
        ("", "Patient", "r", False),
    ],
)
def test_granted(scope: str, rtype: str, perm: str, expected: bool) -> None:
    assert granted(scope, rtype, perm) is expected


def test_requested_scopes_are_narrow() -> None:
    ehr = requested_scopes(ehr_launch=True).split()
    standalone = requested_scopes(ehr_launch=False).split()
    assert "launch" in ehr and "launch/patient" not in ehr
    assert "launch/patient" in standalone and "launch" not in standalone
    for t in READ_TYPES:
        assert f"patient/{t}.rs" in ehr
    assert not any(s.endswith((".c", ".cruds", ".*", ".write")) for s in ehr)
    assert "patient/MedicationRequest.c" in requested_scopes(True, write_drafts=True).split()
    assert not {"openid", "fhirUser", "profile"} & set(ehr + standalone)  # nothing unused


@given(st.text(max_size=60))
def test_granted_never_raises(scope: str) -> None:
    assert granted(scope, "Patient", "r") in {True, False}


def _settings(tmp_path: Path, **kw: object) -> object:
    return load_settings(data_dir=tmp_path, **kw)


@pytest.mark.parametrize(
    ("issuers", "dev", "host", "iss", "allowed"),
    [
        (("https://ehr.example.org/fhir",), False, "0.0.0.0", "https://ehr.example.org/fhir", True),
        (
            ("https://ehr.example.org/fhir",),
            False,
            "0.0.0.0",
            "https://ehr.example.org/fhir/",
            True,
        ),
        (("https://ehr.example.org/fhir",), False, "0.0.0.0", "https://evil.example/fhir", False),
        (
            ("https://ehr.example.org/fhir",),
            False,
            "0.0.0.0",
            "https://ehr.example.org/fhir/../x",
            False,
        ),
        (
            ("https://ehr.example.org/fhir",),
            False,
            "0.0.0.0",
            "https://ehr.example.org.evil/fhir",
            False,
        ),
        ((), False, "127.0.0.1", "http://127.0.0.1:9000/fhir", False),  # no --dev
        ((), True, "127.0.0.1", "http://127.0.0.1:9000/fhir", True),  # --dev on loopback
        ((), True, "127.0.0.1", "http://ehr.example.org/fhir", False),  # not a loopback issuer
        ((), True, "0.0.0.0", "http://127.0.0.1:9000/fhir", False),  # --dev, not loopback
    ],
)
def test_issuer_allow_list(
    tmp_path: Path, issuers: tuple[str, ...], dev: bool, host: str, iss: str, allowed: bool
) -> None:
    settings = load_settings(data_dir=tmp_path, smart_issuers=issuers, dev=dev, host=host)
    assert settings.smart_issuer_allowed(iss) is allowed


def test_settings_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDN_SMART_CLIENT_ID", "abc")
    monkeypatch.setenv("LDN_SMART_ISSUERS", "https://a.example/fhir,https://b.example/r4")
    settings = load_settings(data_dir=tmp_path)
    assert settings.smart_client_id == "abc" and settings.smart_enabled
    assert settings.smart_issuers == ("https://a.example/fhir", "https://b.example/r4")
    monkeypatch.setenv("LDN_SMART_ISSUERS", "ftp://nope")
    with pytest.raises(InputError, match="smart_issuers"):
        load_settings(data_dir=tmp_path)


@pytest.mark.parametrize(
    ("patient", "expected"),
    [
        (
            {"id": "p1", "name": [{"use": "official", "given": ["Chet"], "family": "Thompson"}],
             "birthDate": "1990-05-10", "gender": "male"},
            {"name": "Chet Thompson", "birth": "born 1990-05-10 (36 years)", "sex": "male",
             "deceased": None},
        ),
        (
            {"id": "p2", "name": [{"text": "Ann Lee"}], "birthDate": "1900-01-01",
             "gender": "female", "deceasedDateTime": "1968-03-02T10:00:00Z"},
            {"name": "Ann Lee", "birth": "born 1900-01-01 (68 years at death)", "sex": "female",
             "deceased": "Deceased 1968-03-02"},
        ),
        (
            {"id": "p3", "deceasedBoolean": True},
            {"name": "Name not recorded", "birth": "birth date not recorded",
             "sex": "sex not recorded", "deceased": "Deceased (date not recorded)"},
        ),
    ],
)  # fmt: skip
def test_patient_banner(patient: dict[str, object], expected: dict[str, object]) -> None:
    banner = patient_banner(patient, date(2026, 12, 6))
    assert {k: banner[k] for k in expected} == expected


def test_cds_card_link_is_smart_when_a_launch_url_is_configured(tmp_path: Path) -> None:
    from ldn_derm.web.cds.cards import render_card

    finding = {
        "code": "ldn-evidence-psoriasis",
        "severity": "info",
        "summary": "s",
        "link_path": "/evidence/psoriasis",
        "condition": "psoriasis",
    }
    plain = render_card(finding, load_settings(data_dir=tmp_path))
    assert plain["links"][0]["type"] == "absolute"
    assert "appContext" not in plain["links"][0]
    smart = render_card(
        finding,
        load_settings(data_dir=tmp_path, smart_launch_url="https://ldn.example.org/smart/launch"),
    )
    link = smart["links"][0]
    assert link["type"] == "smart" and link["url"] == "https://ldn.example.org/smart/launch"
    assert link["appContext"] == '{"condition":"psoriasis"}'


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ({"token_type": "Bearer", "scope": "patient/*.read"}, "no access token"),
        ({"access_token": None, "token_type": "Bearer", "scope": "x"}, "no access token"),
        ({"access_token": "t", "token_type": "mac", "scope": "x"}, "not a Bearer"),
        ({"access_token": "t", "token_type": "Bearer"}, "which access was granted"),
    ],
)
def test_a_token_answer_without_its_required_fields_is_refused(
    token: dict[str, object], said: str
) -> None:
    """SMART requires access_token, token_type Bearer and scope: a missing access token was a
    500, a null one was used as 'Bearer None', a missing scope was taken as all asked for."""
    from ldn_derm.web.smart.errors import SmartLaunchError
    from ldn_derm.web.smart.routes import _token_fields

    with pytest.raises(SmartLaunchError, match=said):
        _token_fields(token)
    assert _token_fields({"access_token": "t", "token_type": "bearer", "scope": "s"}) == ("t", "s")


def test_an_ipv6_literal_base_keeps_its_brackets() -> None:
    """'http://[::1]:8080/fhir' became 'http://::1:8080/fhir/': an invalid URL and a 500."""
    from ldn_derm.web.settings import fhir_base

    assert fhir_base("http://[::1]:8080/fhir") == "http://[::1]:8080/fhir/"
    assert fhir_base("https://ehr.example/fhir") == "https://ehr.example/fhir/"
