"""FHIR in (Patient from a bundle) and out (a course as a validated R4 Bundle)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from registry_testkit import visit_payload

from ldn_derm.errors import PatientDataError
from ldn_derm.registry.fhir_io import (
    NALTREXONE_RXCUI,
    OUTCOME_SYSTEM,
    SIDE_EFFECT_SYSTEM,
    course_to_fhir,
    patient_from_bundle,
)
from ldn_derm.registry.service import Registry
from ldn_derm.registry.views import CourseView


def test_every_synthea_bundle_yields_its_patient(synthea_bundles: list[Path]) -> None:
    read = 0
    for path in synthea_bundles:
        raw = path.read_bytes()
        resources = [e["resource"] for e in orjson.loads(raw)["entry"]]
        patients = [r for r in resources if r["resourceType"] == "Patient"]
        if not patients:  # Synthea also writes hospital and practitioner bundles
            with pytest.raises(PatientDataError, match="no Patient"):
                patient_from_bundle(raw)
            continue
        patient, resource = patient_from_bundle(raw), patients[0]
        assert patient.source_id == resource["id"]
        assert patient.birth_date.isoformat() == resource["birthDate"]
        assert patient.family_name == resource["name"][0]["family"]
        assert patient.sex.value == resource["gender"]
        read += 1
    assert read >= 10


def test_a_bare_patient_and_the_official_name_win() -> None:
    patient = patient_from_bundle(
        {
            "resourceType": "Patient",
            "id": "p1",
            "gender": "female",
            "birthDate": "1980-04-05",
            "name": [
                {"use": "nickname", "given": ["Bee"], "family": "X"},
                {"use": "official", "given": ["Beatrice", "Ann"], "family": "Example"},
            ],
        }
    )
    assert (patient.given_name, patient.family_name) == ("Beatrice Ann", "Example")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"{not json", "not valid JSON"),
        ({"resourceType": "Bundle", "entry": []}, "no Patient"),
        ({"resourceType": "Observation"}, "expected a FHIR Bundle or Patient"),
        ({"resourceType": "Patient", "name": [{"family": "A"}]}, "no birthDate"),
        (
            {"resourceType": "Patient", "birthDate": "1980", "name": [{"family": "A"}]},
            "not a full date",
        ),
        ({"resourceType": "Patient", "birthDate": "1980-01-01"}, "no name"),
    ],
)
def test_unreadable_bundles_are_patient_data_errors(doc: object, message: str) -> None:
    with pytest.raises(PatientDataError, match=message):
        patient_from_bundle(doc)  # type: ignore[arg-type]


def test_importing_the_same_bundle_twice_registers_one_patient(
    clinic: Registry, synthea_bundles: list[Path]
) -> None:
    with_patient = [p for p in synthea_bundles if b'"Patient"' in p.read_bytes()]
    data = patient_from_bundle(with_patient[0].read_bytes())
    first, created = clinic.import_patient(data)
    again, created_again = clinic.import_patient(data)
    assert created and not created_again and first.pseudonym == again.pseudonym
    assert len(clinic.list_patients()) == 1


def test_course_export_is_valid_fhir_with_honest_codes(
    clinic: Registry, course: CourseView
) -> None:
    clinic.add_visit(course.id, visit_payload(0, dose_mg=1.5, pasi=12, dlqi=10))
    clinic.add_visit(
        course.id,
        visit_payload(
            28, dose_mg=3, pasi=7, investigator_global=2, investigator_global_scale="pga"
        ),
    )
    clinic.update_course(
        course.id,
        {"version": course.version, "stop_date": "2025-03-01", "stop_reason": "goal-reached"},
    )
    bundle = course_to_fhir(clinic.get_course(course.id))
    Bundle.model_validate(bundle)  # R4 (R4B models)
    resources = [e["resource"] for e in bundle["entry"]]
    (statement,) = [r for r in resources if r["resourceType"] == "MedicationStatement"]
    assert statement["status"] == "completed"
    assert statement["medicationCodeableConcept"]["coding"][0]["code"] == NALTREXONE_RXCUI
    assert [d["doseAndRate"][0]["doseQuantity"]["value"] for d in statement["dosage"]] == [1.5, 3]
    assert statement["dosage"][0]["timing"]["repeat"]["when"] == ["HS"]
    assert statement["reasonCode"][0]["coding"][0]["code"] == "L40"
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    systems = {c["system"] for o in observations for c in o["code"]["coding"]}
    assert systems == {OUTCOME_SYSTEM}  # no LOINC code could be verified for these measures
    assert "http://loinc.org" not in json.dumps(bundle)
    assert any(
        c["system"] == SIDE_EFFECT_SYSTEM
        for o in observations
        for c in o.get("valueCodeableConcept", {}).get("coding", [])
    )
    pasi = [o["valueQuantity"]["value"] for o in observations if o["id"].endswith("-pasi")]
    assert pasi == [12, 7]
    glob = next(o for o in observations if o["id"].endswith("investigator-global-0-4"))
    assert glob["method"]["text"].startswith("PGA")
    text = json.dumps(bundle)
    assert "Quixote" not in text and "Zelda" not in text and "1970-02-03" not in text
