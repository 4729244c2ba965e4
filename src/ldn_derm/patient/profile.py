"""`PatientProfile`: the facts the assessment rules need, each with the record it came from.

Every fact carries `ref` ("MedicationRequest/123", or "profile:medications[2]" for a manual
profile) so that a finding can say exactly what triggered it. Matching to terminology happens
once, when the profile is built (see `patient.terminology`); the rules only read ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class PregnancyStatus(StrEnum):
    PREGNANT = "pregnant"
    NOT_PREGNANT = "not-pregnant"
    UNKNOWN = "unknown"


class MedStatus(StrEnum):
    """Where a medication record stands on the as-of date."""

    CURRENT = "current"  # active, on-hold, intended, draft order, in progress
    PAST = "past"  # stopped or completed
    UNKNOWN = "unknown"  # status 'unknown' or missing


@dataclass(frozen=True, slots=True)
class Code:
    """One coding: `system` is a short name (icd10cm, snomed, rxnorm, loinc) or the raw URI."""

    system: str | None
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class ConditionFact:
    ref: str
    text: str
    codes: tuple[Code, ...]
    active: bool  # clinically active on the as-of date
    onset: date | None
    abated: date | None
    unconfirmed: bool  # verification status provisional/differential/unconfirmed
    concepts: frozenset[str]  # ClinicalConcept ids from terminology.yaml
    indications: tuple[str, ...]  # condition ids from conditions.yaml
    indication_match: str | None  # "code" or "text"
    ambiguous: tuple[str, ...] = ()  # conditions a shared code could mean (e.g. Q82.8)


@dataclass(frozen=True, slots=True)
class MedicationFact:
    ref: str
    text: str
    codes: tuple[Code, ...]
    status: MedStatus
    raw_status: str | None
    start: date | None
    last_date: date | None  # last day known to be covered (end, or start when no end)
    end_known: bool  # True when `last_date` is a recorded end, not just the order date
    ingredients: frozenset[str]
    classes: frozenset[str]
    recognised: bool  # checked: the program can say what the product contains
    unrecognised_parts: tuple[str, ...] = ()
    checked_by: str | None = None  # "code", "name", "rxnorm-name"; None when unchecked
    unlisted_ingredients: tuple[str, ...] = ()  # rxnorm-name ingredients not in the terminology


@dataclass(frozen=True, slots=True)
class AllergyFact:
    ref: str
    text: str
    codes: tuple[Code, ...]
    active: bool
    category: str | None  # medication, food, environment, biologic
    ingredients: frozenset[str]
    classes: frozenset[str]


@dataclass(frozen=True, slots=True)
class LabFact:
    ref: str
    lab: str  # LabCode id from terminology.yaml
    text: str
    effective: date | None
    value: float | None = None
    unit: str | None = None
    result: str | None = None  # "positive" / "negative" for qualitative tests
    flag: str | None = None  # "high" / "low" / "normal" from interpretation or reference range
    value_text: str | None = None  # coded or string value as written (e.g. "Pregnant")


@dataclass(frozen=True, slots=True)
class NotAssessedItem:
    """Something in the record the assessment could not use, said plainly."""

    kind: str  # condition, medication, allergy, observation, resource, patient
    text: str
    reason: str
    ref: str | None = None


@dataclass
class PatientProfile:
    id: str
    as_of: date
    source: str  # "fhir-bundle", "cds-prefetch", "profile"
    sex: Sex = Sex.UNKNOWN
    birth_date: date | None = None
    age: int | None = None
    deceased: date | None = None
    deceased_undated: bool = False  # Patient.deceasedBoolean true, no date of death
    patient_ref: str | None = None
    name: str | None = None  # for display only (banner); never used by a rule
    pregnancy: PregnancyStatus = PregnancyStatus.UNKNOWN
    pregnancy_refs: tuple[str, ...] = ()
    lactating: bool | None = None
    lactation_refs: tuple[str, ...] = ()
    conditions: list[ConditionFact] = field(default_factory=list)
    medications: list[MedicationFact] = field(default_factory=list)
    allergies: list[AllergyFact] = field(default_factory=list)
    labs: list[LabFact] = field(default_factory=list)
    not_assessed: list[NotAssessedItem] = field(default_factory=list)
    skipped_types: dict[str, int] = field(default_factory=dict)  # resource type -> count

    @property
    def is_deceased(self) -> bool:
        """The record says the patient has died (on or before the as-of date, or undated)."""
        return self.deceased is not None or self.deceased_undated

    def conditions_with(
        self, concept: str, *, include_history: bool = False
    ) -> list[ConditionFact]:
        return [
            c for c in self.conditions if concept in c.concepts and (c.active or include_history)
        ]

    def labs_of(self, lab: str) -> list[LabFact]:
        """Results of one lab, newest first (undated results last)."""
        found = [x for x in self.labs if x.lab == lab]
        return sorted(found, key=lambda x: x.effective or date.min, reverse=True)
