"""The three LDN CDS services as discovery lists them, with their prefetch templates.

Prefetch templates use only root-level context tokens ({{context.patientId}}), instance reads
and type-level searches with token equality, as the 2.0 spec recommends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

PATIENT = "Patient/{{context.patientId}}"
CONDITIONS = "Condition?patient={{context.patientId}}&clinical-status=active"
# `_include` brings the Medication resources the requests name by medicationReference (FHIR R4
# search parameters MedicationRequest.medication and MedicationStatement.medication).
MEDICATIONS = (
    "MedicationRequest?patient={{context.patientId}}&status=active"
    "&_include=MedicationRequest:medication"
)
STATEMENTS = (
    "MedicationStatement?patient={{context.patientId}}&status=active"
    "&_include=MedicationStatement:medication"
)


@dataclass(frozen=True)
class ServiceDef:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]
    required: tuple[str, ...]  # prefetch keys without which the service answers 412
    usage: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def discovery(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
        }
        if self.usage:
            out["usageRequirements"] = self.usage
        return out


def _observation_template() -> str | None:
    """Observations for the labs the knowledge base names (LOINC, comma = OR)."""
    from ldn_derm.knowledge import get_knowledge

    codes = sorted(
        {
            f"http://loinc.org|{c.code}"
            for lab in get_knowledge().terminology.labs
            for c in lab.loinc
        }
    )
    if not codes:
        return None
    return "Observation?patient={{context.patientId}}&code=" + ",".join(codes)


USAGE = (
    "Needs the patient, active conditions and active medication requests (with the Medication "
    "resources they reference), prefetched or readable with the fhirAuthorization token; "
    "answers 412 when it can get neither. Active medication statements are read when given; "
    "when they are not, the order services say so in a card. A Patient whose id is not "
    "context.patientId is refused (400 when prefetched, 412 when read from fhirServer)."
)


@lru_cache(maxsize=1)
def services() -> dict[str, ServiceDef]:
    prefetch = {
        "patient": PATIENT,
        "conditions": CONDITIONS,
        "medications": MEDICATIONS,
        "statements": STATEMENTS,
    }
    observations = _observation_template()
    if observations:
        prefetch["observations"] = observations
    required = ("patient", "conditions", "medications")
    defs = [
        ServiceDef(
            id="ldn-patient-view",
            hook="patient-view",
            title="Low-dose naltrexone evidence for this patient's skin conditions",
            description=(
                "When a chart opens, shows a card for each active condition with published "
                "low-dose naltrexone (LDN) evidence, with its summary, citations and a link "
                "to the ldn-derm app."
            ),
            prefetch=dict(prefetch),
            required=required,
            usage=USAGE,
        ),
        ServiceDef(
            id="ldn-order-select",
            hook="order-select",
            title="Low-dose naltrexone order check (selection)",
            description=(
                "When naltrexone is selected: critical card for opioid use, warning when the "
                "dose is outside the low-dose range for an inflammatory indication (with a "
                "suggestion to switch to a low-dose regimen), and the titration and "
                "monitoring plan."
            ),
            prefetch=dict(prefetch),
            required=required,
            usage=USAGE,
        ),
        ServiceDef(
            id="ldn-order-sign",
            hook="order-sign",
            title="Low-dose naltrexone order check (signing)",
            description=(
                "Before a naltrexone order is signed: the same checks as ldn-order-select, "
                "on the completed order."
            ),
            prefetch=dict(prefetch),
            required=required,
            usage=USAGE,
        ),
    ]
    return {d.id: d for d in defs}
