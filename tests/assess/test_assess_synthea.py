"""Every shared Synthea bundle assesses; active opioid orders contraindicate, others do not."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from ldn_derm.assess import Assessment, Candidacy, Severity, assess
from ldn_derm.errors import PatientDataError
from ldn_derm.knowledge import KnowledgeBase
from ldn_derm.patient import load_patient

AS_OF = date(2026, 11, 26)


@pytest.fixture(scope="module")
def documents(synthea_bundles: list[Path]) -> dict[Path, dict[str, Any]]:
    return {path: orjson.loads(path.read_bytes()) for path in synthea_bundles}


def _active_opioid_orders(doc: dict[str, Any], kb: KnowledgeBase) -> set[str]:
    """Independent of the reader: active MedicationRequests naming an OMTK opioid ingredient."""
    opioid_names = {i.name for i in kb.terminology.ingredients if "opioid" in i.classes}
    refs = set()
    for entry in doc["entry"]:
        res = entry["resource"]
        if res["resourceType"] != "MedicationRequest" or res["status"] != "active":
            continue
        display = res["medicationCodeableConcept"]["coding"][0]["display"].lower()
        if any(name in display for name in opioid_names):
            refs.add(f"MedicationRequest/{res['id']}")
    return refs


def _has_patient(doc: dict[str, Any]) -> bool:
    return any(e["resource"]["resourceType"] == "Patient" for e in doc["entry"])


@pytest.fixture(scope="module")
def assessed(documents: dict[Path, dict[str, Any]], kb: KnowledgeBase) -> dict[Path, Assessment]:
    return {
        path: assess(load_patient(path.read_bytes(), as_of=AS_OF, name=path.name, kb=kb), kb)
        for path, doc in documents.items()
        if _has_patient(doc)
    }


def test_every_patient_bundle_assesses(
    documents: dict[Path, dict[str, Any]], assessed: dict[Path, Assessment]
) -> None:
    patient_bundles = [p for p, doc in documents.items() if _has_patient(doc)]
    assert len(patient_bundles) >= 40
    assert set(assessed) == set(patient_bundles)
    for result in assessed.values():
        assert result.patient.age is not None
        for finding in result.findings:
            assert finding.summary and finding.detail


def test_bundles_without_a_patient_are_refused_with_the_documented_error(
    documents: dict[Path, dict[str, Any]],
) -> None:
    others = [p for p, doc in documents.items() if not _has_patient(doc)]
    assert others  # hospitalInformation / practitionerInformation
    for path in others:
        with pytest.raises(PatientDataError, match="no Patient"):
            load_patient(path.read_bytes(), as_of=AS_OF, name=path.name)


def test_active_opioid_orders_contraindicate_and_others_do_not(
    assessed: dict[Path, Assessment], documents: dict[Path, dict[str, Any]], kb: KnowledgeBase
) -> None:
    with_opioids = 0
    for path, result in assessed.items():
        active = _active_opioid_orders(documents[path], kb)
        finding = result.finding("opioid-use")
        if active:
            with_opioids += 1
            assert result.candidacy is Candidacy.CONTRAINDICATED, path.name
            assert finding is not None and set(finding.triggered_by) == active, path.name
        else:
            assert finding is None, path.name
            blockers = [f for f in result.findings if f.severity is Severity.CONTRAINDICATED]
            # the only other contraindications in this data are a coded opioid use disorder
            # and a recorded death (which is listed first)
            assert all(f.code in {"opioid-use-disorder", "patient-deceased"} for f in blockers), (
                path.name
            )
            deceased = result.finding("patient-deceased")
            assert (deceased is not None) == _deceased(documents[path]), path.name
            if deceased is not None:
                assert result.findings[0] == deceased, path.name
    assert with_opioids >= 3


def test_recent_stop_depends_on_the_as_of_date(
    synthea_bundles: list[Path], kb: KnowledgeBase
) -> None:
    path = next(p for p in synthea_bundles if p.name.startswith("Dirk_Kuhlman"))
    data = path.read_bytes()
    # meperidine order written 2020-12-17 and stopped, with no stop date recorded
    just_after = assess(load_patient(data, as_of=date(2020, 12, 20), kb=kb), kb)
    assert just_after.finding("opioid-recent") is not None
    months_later = assess(load_patient(data, as_of=date(2021, 6, 1), kb=kb), kb)
    assert months_later.finding("opioid-recent") is None
    assert months_later.finding("opioid-past") is not None


def test_pregnancy_while_current(synthea_bundles: list[Path], kb: KnowledgeBase) -> None:
    path = next(p for p in synthea_bundles if p.name.startswith("Nereida_Rogahn"))
    data = path.read_bytes()
    during = assess(load_patient(data, as_of=date(2021, 6, 1), kb=kb), kb)
    assert during.finding("pregnancy") is not None
    flags = {f.code: f.severity for c in during.comparators for f in c.flags}
    assert flags["mtx-pregnancy"] is Severity.CONTRAINDICATED
    years_later = assess(load_patient(data, as_of=AS_OF, kb=kb), kb)
    assert years_later.finding("pregnancy") is None


def test_assessment_is_reproducible_for_a_fixed_as_of(
    synthea_bundles: list[Path], kb: KnowledgeBase
) -> None:
    path = next(p for p in synthea_bundles if p.name.startswith("Fletcher_Hyatt"))
    first = assess(load_patient(path.read_bytes(), as_of=AS_OF, kb=kb), kb)
    second = assess(load_patient(path.read_bytes(), as_of=AS_OF, kb=kb), kb)
    assert first == second


def test_every_synthea_medicine_is_checked(
    documents: dict[Path, dict[str, Any]], kb: KnowledgeBase
) -> None:
    """Well-coded records of common drugs must not need review: if one does, the terminology is
    too thin (issue 13, item 5). Every medicine, whatever its status, is identified."""
    unchecked: list[str] = []
    for path, doc in documents.items():
        if not _has_patient(doc):
            continue
        profile = load_patient(path.read_bytes(), as_of=AS_OF, name=path.name, kb=kb)
        unchecked += [f"{path.name}: {m.text}" for m in profile.medications if not m.recognised]
        assert assess(profile, kb).candidacy is not Candidacy.NEEDS_REVIEW, path.name
    assert unchecked == []


def _deceased(doc: dict[str, Any]) -> bool:
    patients = [
        e["resource"] for e in doc.get("entry", []) if e["resource"]["resourceType"] == "Patient"
    ]
    return any(p.get("deceasedBoolean") is True or "deceasedDateTime" in p for p in patients)
