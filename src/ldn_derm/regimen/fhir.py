"""The prescription as a FHIR R4 MedicationRequest (validated with the fhir.resources R4B models).

One dosageInstruction per titration step (boundsPeriod, when=HS/MORN, dose in UCUM mg), a
dispenseRequest for the whole supply, and notes carrying the compounding instructions.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import KnowledgeError
from ldn_derm.regimen.compounding import CompoundingPlan, Form
from ldn_derm.regimen.dose import fmt_mg

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.models import Condition
    from ldn_derm.regimen.schedule import Regimen

UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def medication_text(plan: CompoundingPlan, regimen: Regimen) -> str:
    strengths = list(dict.fromkeys(s.dose_mg for s in regimen.steps))
    if plan.form is Form.CAPSULE:
        listed = " and ".join(f"{fmt_mg(s)} mg" for s in strengths)
        noun = "capsule" if len(strengths) == 1 else "capsules"
        return f"{plan.salt.short} {listed} {noun}, compounded"
    assert plan.concentration_mg_per_ml is not None
    return f"{plan.salt.short} {fmt_mg(plan.concentration_mg_per_ml)} mg/mL oral liquid, compounded"


def _medication(kb: KnowledgeBase, text: str) -> dict[str, Any]:
    ingredient = next((i for i in kb.terminology.ingredients if i.id == kb.drug.ingredient), None)
    if ingredient is None or not ingredient.rxcui or not ingredient.rxcui_verified:
        raise KnowledgeError("terminology.yaml: naltrexone needs a verified RxNorm RxCUI")
    return {
        "coding": [{"system": RXNORM, "code": ingredient.rxcui, "display": ingredient.name}],
        "text": text,
    }


def _reason(condition: Condition) -> list[dict[str, Any]]:
    codings = [
        {"system": SNOMED, "code": c.code, **({"display": c.display} if c.display else {})}
        for c in condition.snomed
        if c.verified
    ] + [
        {"system": ICD10CM, "code": c.code, **({"display": c.display} if c.display else {})}
        for c in condition.icd10cm
        if c.verified
    ]
    concept: dict[str, Any] = {"text": condition.name}
    if codings:
        concept["coding"] = codings
    return [concept]


def build_medication_request(
    regimen: Regimen,
    plan: CompoundingPlan,
    condition: Condition,
    *,
    authored_on: date,
    notes: list[str],
    patient_reference: str | None = None,
    patient_display: str | None = None,
    kb: KnowledgeBase,
) -> dict[str, Any]:
    """The MedicationRequest as a JSON-ready dict; validated against the R4B model."""
    if regimen.start_date is None:
        raise ValueError("the regimen needs a start date for FHIR boundsPeriod")
    per_dose_unit = "mg"
    dosage = []
    for i, step in enumerate(regimen.steps, start=1):
        dates = regimen.step_dates(step)
        assert dates is not None
        text = (
            f"Step {i}: {fmt_mg(step.dose_mg)} mg by mouth once daily {regimen.time.phrase}, "
            f"days {step.start_day}-{step.end_day}"
        )
        if plan.form is Form.LIQUID:
            line = plan.liquid[i - 1]
            conc = fmt_mg(plan.concentration_mg_per_ml or Decimal(0))
            text += f" ({fmt_mg(line.volume_ml)} mL of {conc} mg/mL)"
        dosage.append(
            {
                "sequence": i,
                "text": text,
                "timing": {
                    "repeat": {
                        "boundsPeriod": {
                            "start": dates[0].isoformat(),
                            "end": dates[1].isoformat(),
                        },
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "when": [regimen.time.fhir_when],
                    }
                },
                "route": {"text": "oral"},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": _number(step.dose_mg),
                            "unit": per_dose_unit,
                            "system": UCUM,
                            "code": per_dose_unit,
                        }
                    }
                ],
            }
        )
    subject: dict[str, Any] = {}
    if patient_reference:
        subject["reference"] = patient_reference
    subject["display"] = patient_display or (
        "Patient" if patient_reference else "Patient not specified"
    )
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": _medication(kb, medication_text(plan, regimen)),
        "subject": subject,
        "authoredOn": authored_on.isoformat(),
        "reasonCode": _reason(condition),
        "dosageInstruction": dosage,
        "dispenseRequest": dispense_request(plan, regimen),
        "note": [{"text": n} for n in notes],
    }
    validate_medication_request(resource)
    return resource


def _quantity(value: Decimal, code: str) -> dict[str, Any]:
    return {
        "value": _number(value),
        "unit": "capsules" if code == "{capsule}" else "mL",
        "system": UCUM,
        "code": code,
    }


def _days(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "days", "system": UCUM, "code": "d"}


def dispense_request(plan: CompoundingPlan, regimen: Regimen) -> dict[str, Any]:
    """One fill: its quantity and duration, no repeats. Several fills (the supply outlasts the
    beyond-use date): `initialFill` is the first, `quantity`/`expectedSupplyDuration` the
    largest later fill, `numberOfRepeatsAllowed` the number of later fills; the exact amount of
    each fill is in the notes and the prescription text."""
    code = plan.unit
    fills = plan.fills
    if len(fills) <= 1:
        qty, _ = plan.dispense_quantity
        return {
            "quantity": _quantity(qty, code),
            "expectedSupplyDuration": _days(regimen.days),
            "numberOfRepeatsAllowed": 0,
        }
    first, later = fills[0], fills[1:]
    return {
        "initialFill": {
            "quantity": _quantity(first.quantity, code),
            "duration": _days(first.days),
        },
        "quantity": _quantity(max(f.quantity for f in later), code),
        "expectedSupplyDuration": _days(max(f.days for f in later)),
        "numberOfRepeatsAllowed": len(later),
    }


def validate_medication_request(resource: dict[str, Any]) -> Any:
    """Parse with fhir.resources R4B (raises on an invalid resource) and return the model."""
    from fhir.resources.R4B.medicationrequest import MedicationRequest

    return MedicationRequest.model_validate(resource)
