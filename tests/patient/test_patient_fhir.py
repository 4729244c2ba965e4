"""The FHIR reader: bundle structure, patient selection, references, statuses, prefetch."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.errors import PatientDataError
from ldn_derm.patient import (
    MedStatus,
    PregnancyStatus,
    Sex,
    load_patient,
    profile_from_bundle,
    profile_from_prefetch,
    profile_from_resources,
)

AS_OF = date(2026, 6, 1)
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1990-05-05"}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (PATIENT, *resources)],
    }


def med(
    ident: str, text: str, status: str = "active", subject: str = "Patient/p1", **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status,
        "subject": {"reference": subject},
        "authoredOn": "2026-05-01",
        "medicationCodeableConcept": {"text": text},
        **extra,
    }


def test_patient_facts_and_refs() -> None:
    profile = profile_from_bundle(bundle(med("m1", "Percocet")), as_of=AS_OF)
    assert (profile.id, profile.age, profile.sex) == ("p1", 36, Sex.FEMALE)
    [fact] = profile.medications
    assert fact.ref == "MedicationRequest/m1"
    assert fact.status is MedStatus.CURRENT
    assert "opioid" in fact.classes


def test_synthea_bundle_refs_and_skipped_types(synthea_bundles: list[Path]) -> None:
    path = next(p for p in synthea_bundles if p.name.startswith("Eliseo_Cummings"))
    profile = load_patient(path.read_bytes(), as_of=AS_OF)
    assert profile.skipped_types["Claim"] > 0 and "Encounter" in profile.skipped_types
    assert all(m.ref.startswith("MedicationRequest/") for m in profile.medications)
    assert any(item.kind == "resource" and "Claim" in item.reason for item in profile.not_assessed)


def test_resources_of_another_patient_are_left_out() -> None:
    profile = profile_from_bundle(
        bundle(med("m1", "Percocet", subject="Patient/someone-else")), as_of=AS_OF
    )
    assert profile.medications == []
    assert any("different patient" in n.reason for n in profile.not_assessed)


def test_urn_uuid_subjects_match_the_patient_full_url() -> None:
    doc = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "urn:uuid:abc", "resource": {**PATIENT, "id": "abc"}},
            {"fullUrl": "urn:uuid:m1", "resource": med("m1", "Percocet", subject="urn:uuid:abc")},
        ],
    }
    assert len(profile_from_bundle(doc, as_of=AS_OF).medications) == 1


def test_several_patients_are_refused_unless_one_is_chosen() -> None:
    other = {**PATIENT, "id": "p2"}
    doc = bundle(other)
    with pytest.raises(PatientDataError, match="2 different Patient"):
        profile_from_bundle(doc, as_of=AS_OF)
    assert profile_from_bundle(doc, as_of=AS_OF, patient_id="p2").id == "p2"


def test_the_same_patient_told_twice_differently_is_refused() -> None:
    """Two Patient resources with one id: the same twice is fine; a second copy that adds a
    date of death (or changes anything) cannot be reconciled, and one must not win silently."""
    assert profile_from_bundle(bundle(dict(PATIENT)), as_of=AS_OF).id == "p1"
    dead = {**PATIENT, "deceasedDateTime": "2026-03-01"}
    with pytest.raises(PatientDataError, match="2 times, with different contents"):
        profile_from_bundle(bundle(dead), as_of=AS_OF)


def test_a_deceased_flag_that_is_not_a_boolean_is_refused() -> None:
    doc = {"resourceType": "Bundle", "type": "collection",
           "entry": [{"resource": {**PATIENT, "deceasedBoolean": "true"}}]}  # fmt: skip
    with pytest.raises(PatientDataError, match="deceasedBoolean"):
        profile_from_bundle(doc, as_of=AS_OF)


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (med("m1", "x", status="taking"), "not a FHIR MedicationRequest status"),
        (med("m1", "x", authoredOn="May 2026"), "authoredOn"),
        ({**med("m1", "x"), "medicationCodeableConcept": "Percocet"}, "CodeableConcept"),
        ({"resourceType": "Condition", "id": "c1", "code": {"coding": "L40"}}, "'coding'"),
        (
            {
                "resourceType": "Observation",
                "id": "o1",
                "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
                "valueQuantity": {"value": "2"},
            },
            "valueQuantity",
        ),
        ({"resourceType": "Condition", "id": 7}, "id that is not a string"),
    ],
)
def test_malformed_fields_raise_a_named_error(resource: dict[str, Any], message: str) -> None:
    with pytest.raises(PatientDataError, match=message):
        profile_from_bundle(bundle(resource), as_of=AS_OF)


def test_as_of_before_birth_is_an_error() -> None:
    with pytest.raises(PatientDataError, match="before the patient's birth"):
        profile_from_bundle(bundle(), as_of=date(1980, 1, 1))


def test_prefetch_matches_the_bundle_reading() -> None:
    meds = [med("m1", "Percocet"), med("m2", "amlodipine 5 mg")]
    prefetch = {
        "patient": PATIENT,
        "medications": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": m} for m in meds],
        },
        "conditions": None,  # the EHR could not prefetch it
    }
    from_prefetch = profile_from_prefetch(prefetch, as_of=AS_OF)
    from_bundle = profile_from_bundle(bundle(*meds), as_of=AS_OF)
    from_resources = profile_from_resources([PATIENT, *meds], as_of=AS_OF)
    for profile in (from_prefetch, from_resources):
        assert profile.medications == from_bundle.medications
    assert from_prefetch.source == "cds-prefetch"


def test_prefetch_with_a_bad_value() -> None:
    with pytest.raises(PatientDataError, match="prefetch 'patient'"):
        profile_from_prefetch({"patient": "Patient/1"}, as_of=AS_OF)


def test_pregnancy_status_observation() -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
        "effectiveDateTime": "2026-05-20",
        "valueCodeableConcept": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "77386006", "display": "Pregnant"}
            ]
        },
    }
    profile = profile_from_bundle(bundle(obs), as_of=AS_OF)
    assert profile.pregnancy is PregnancyStatus.PREGNANT
    assert profile.pregnancy_refs == ("Observation/o1",)


def test_load_patient_accepts_bom_and_detects_format() -> None:
    assert load_patient(b"\xef\xbb\xbf" + orjson.dumps(bundle()), as_of=AS_OF).id == "p1"
    assert load_patient(orjson.dumps(bundle()), as_of=AS_OF).id == "p1"
    yaml_profile = b"id: y\nsex: male\nage: 40\nconditions: [psoriasis]\n"
    assert load_patient(yaml_profile, as_of=AS_OF, name="p.yaml").age == 40


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([{"use": "official", "given": ["Ann", "B."], "family": "Lee"}], "Ann B. Lee"),
        ([{"use": "nickname", "text": "Annie"}, {"use": "official", "text": "Ann Lee"}], "Ann Lee"),
        ([{"given": [3], "family": None}], None),
        ("not a list", None),
        (None, None),
    ],
)
def test_display_name_is_read_for_the_banner_only(names: object, expected: str | None) -> None:
    from ldn_derm.patient.fhir import display_name

    assert display_name({"resourceType": "Patient", "id": "p", "name": names}) == expected


_TEXTISH = st.one_of(st.none(), st.sampled_from(["", " ", "1742-6", " 38483-4 ", "x"]))
_ODD = st.one_of(_TEXTISH, st.integers(0, 2), st.lists(st.just("a"), max_size=1))


@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "system": st.one_of(_ODD, st.just("http://loinc.org")),
                "code": _ODD,
                "display": _ODD,
            },
        ),
        max_size=4,
    ),
    _TEXTISH,
)
def test_codings_read_once_are_read_the_same_again(
    codings: list[dict[str, object]], text: str | None
) -> None:
    """_concept keeps each coding's Code by its (system, code, display): reading a concept
    again gives the same codes and texts, and a malformed coding is refused every time."""
    from ldn_derm.patient import fhir

    concept = {"coding": codings, "text": text}

    def read() -> object:
        try:
            return fhir._concept(concept, "here")
        except PatientDataError as exc:
            return str(exc)

    first = read()
    fhir._CODES.clear()
    uncached = read()
    assert first == uncached == read()
    if isinstance(first, str):
        with pytest.raises(PatientDataError):
            fhir._concept(concept, "here")


def test_the_reader_caches_keep_no_long_values() -> None:
    """The coding, date and reference caches live as long as the process (a screen worker):
    only short values are kept, so a record of megabyte displays cannot grow them."""
    from ldn_derm.patient import dates, fhir

    long_display = "x" * 5000
    long_date = "2024-01-02T03:04:05." + "1" * 5000 + "Z"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1970-01-01"}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c",
                    "subject": {"reference": "Patient/p" + " " * 3000},
                    "clinicalStatus": {"coding": [{"code": "active"}]},
                    "code": {"coding": [{"system": "s", "code": "1", "display": long_display}]},
                    "onsetDateTime": long_date,
                }
            },
        ],
    }
    load_patient(orjson.dumps(bundle), as_of=date(2026, 6, 1))
    assert not [key for key in fhir._CODES if long_display in key]
    assert long_date not in dates._PARSED[0] and long_date not in dates._PARSED[1]


def test_a_bundle_nested_too_deep_is_refused_not_skipped() -> None:
    """An opioid four Bundles down used to be skipped, the record still 'candidate'."""
    oxy = med("m1", "oxycodone 5 mg tablet")
    inner: dict[str, Any] = {"resourceType": "Bundle", "type": "collection",
                             "entry": [{"resource": oxy}]}  # fmt: skip
    for _ in range(2):
        inner = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": inner}]}
    assert profile_from_bundle(bundle(inner["entry"][0]["resource"]), as_of=AS_OF).medications
    with pytest.raises(PatientDataError, match="nested more than three deep"):
        profile_from_bundle(bundle(inner), as_of=AS_OF)


def test_a_death_before_birth_is_refused() -> None:
    doc = {"resourceType": "Bundle", "type": "collection",
           "entry": [{"resource": {**PATIENT, "deceasedDateTime": "1980-01-01"}}]}  # fmt: skip
    with pytest.raises(PatientDataError, match="before the birth date"):
        profile_from_bundle(doc, as_of=AS_OF)
