"""Build small FHIR R4 bundles for hand-written vignettes (plain dicts, as an EHR exports them)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count
from typing import Any

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"

AS_OF = date(2026, 6, 1)


def days_ago(n: int) -> str:
    return (AS_OF - timedelta(days=n)).isoformat()


def concept(
    system: str | None = None,
    code: str | None = None,
    display: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    coding: dict[str, Any] = {}
    if system:
        coding["system"] = system
    if code:
        coding["code"] = code
    if display:
        coding["display"] = display
    if coding:
        out["coding"] = [coding]
    if text:
        out["text"] = text
    return out


class Bundle:
    """A one-patient bundle; methods add resources and return their 'Type/id' reference."""

    def __init__(self, gender: str = "female", birth: str = "1980-04-02", **patient: Any) -> None:
        self._ids = count(1)
        self.patient_id = "p1"
        self.entries: list[dict[str, Any]] = []
        self._add(
            {
                "resourceType": "Patient",
                "id": self.patient_id,
                "gender": gender,
                "birthDate": birth,
                **patient,
            }
        )

    def _add(self, resource: dict[str, Any]) -> str:
        if "id" not in resource:
            resource["id"] = f"r{next(self._ids)}"
        self.entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
        return f"{resource['resourceType']}/{resource['id']}"

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.patient_id}"}

    def condition(
        self,
        code: dict[str, Any],
        *,
        status: str | None = "active",
        onset: str | None = None,
        abated: str | None = None,
        verification: str | None = None,
    ) -> str:
        res: dict[str, Any] = {"resourceType": "Condition", "subject": self.subject, "code": code}
        if status:
            res["clinicalStatus"] = concept(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", status
            )
        if verification:
            res["verificationStatus"] = concept(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", verification
            )
        if onset:
            res["onsetDateTime"] = onset
        if abated:
            res["abatementDateTime"] = abated
        return self._add(res)

    def request(
        self,
        med: dict[str, Any] | None = None,
        *,
        status: str = "active",
        authored: str | None = None,
        reference: str | None = None,
        **extra: Any,
    ) -> str:
        res: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "status": status,
            "intent": "order",
            "subject": self.subject,
            "authoredOn": authored or days_ago(30),
            **extra,
        }
        if med is not None:
            res["medicationCodeableConcept"] = med
        if reference is not None:
            res["medicationReference"] = {"reference": reference}
        return self._add(res)

    def statement(self, med: dict[str, Any], *, status: str = "active", **extra: Any) -> str:
        return self._add(
            {
                "resourceType": "MedicationStatement",
                "status": status,
                "subject": self.subject,
                "medicationCodeableConcept": med,
                **extra,
            }
        )

    def administration(
        self, med: dict[str, Any], *, status: str = "in-progress", **extra: Any
    ) -> str:
        return self._add(
            {
                "resourceType": "MedicationAdministration",
                "status": status,
                "subject": self.subject,
                "medicationCodeableConcept": med,
                "effectiveDateTime": days_ago(1),
                **extra,
            }
        )

    def medication(
        self,
        code: dict[str, Any],
        ingredients: list[dict[str, Any]] | None = None,
        ident: str | None = None,
    ) -> str:
        res: dict[str, Any] = {
            "resourceType": "Medication",
            "code": code,
            "ingredient": [{"itemCodeableConcept": i} for i in ingredients or []],
        }
        if ident:
            res["id"] = ident
        return self._add(res)

    def allergy(
        self, code: dict[str, Any], *, status: str = "active", category: str = "medication"
    ) -> str:
        return self._add(
            {
                "resourceType": "AllergyIntolerance",
                "patient": self.subject,
                "code": code,
                "category": [category],
                "clinicalStatus": concept(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", status
                ),
            }
        )

    def observation(
        self,
        loinc: str,
        display: str,
        *,
        when: str | None = None,
        value: float | None = None,
        unit: str | None = None,
        coded: str | None = None,
        interpretation: str | None = None,
        high: float | None = None,
        status: str = "final",
    ) -> str:
        res: dict[str, Any] = {
            "resourceType": "Observation",
            "status": status,
            "subject": self.subject,
            "code": concept(LOINC, loinc, display),
            "effectiveDateTime": when or days_ago(10),
        }
        if value is not None:
            res["valueQuantity"] = {"value": value, "unit": unit}
        if coded is not None:
            res["valueCodeableConcept"] = {"text": coded}
        if interpretation is not None:
            res["interpretation"] = [
                concept(
                    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                    interpretation,
                )
            ]
        if high is not None:
            res["referenceRange"] = [{"high": {"value": high, "unit": unit}}]
        return self._add(res)

    def add(self, resource: dict[str, Any]) -> str:
        return self._add(resource)

    def json(self) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "collection", "entry": self.entries}
