"""Patient records in, `PatientProfile` out.

- `load_patient(bytes, as_of=...)`: a FHIR R4 Bundle (JSON) or a manual profile (YAML/JSON).
- `profile_from_bundle`, `profile_from_prefetch` (CDS Hooks), `profile_from_resources`.
- `profile_from_document`: an already-parsed manual profile.

Every fact keeps the reference of the record it came from ("Type/id").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ldn_derm.patient.fhir import profile_from_bundle, profile_from_prefetch, profile_from_resources
from ldn_derm.patient.load import MAX_INPUT_BYTES, check_size, load_patient
from ldn_derm.patient.profile import (
    AllergyFact,
    Code,
    ConditionFact,
    LabFact,
    MedicationFact,
    MedStatus,
    NotAssessedItem,
    PatientProfile,
    PregnancyStatus,
    Sex,
)

if TYPE_CHECKING:  # the profile form (pydantic) loads only when a profile is read
    from ldn_derm.patient.manual import ProfileDocument, profile_from_document


def __getattr__(name: str) -> Any:
    if name in {"ProfileDocument", "profile_from_document"}:
        from ldn_derm.patient import manual

        return getattr(manual, name)
    raise AttributeError(f"module 'ldn_derm.patient' has no attribute '{name}'")


__all__ = [
    "MAX_INPUT_BYTES",
    "AllergyFact",
    "Code",
    "ConditionFact",
    "LabFact",
    "MedStatus",
    "MedicationFact",
    "NotAssessedItem",
    "PatientProfile",
    "PregnancyStatus",
    "ProfileDocument",
    "Sex",
    "check_size",
    "load_patient",
    "profile_from_bundle",
    "profile_from_document",
    "profile_from_prefetch",
    "profile_from_resources",
]
