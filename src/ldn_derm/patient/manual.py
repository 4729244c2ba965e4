"""A hand-written patient profile (YAML or JSON) for use without an EHR.

The schema is the pydantic model `ProfileDocument` (documented with an example in
docs/assessment.md and examples/profile-psoriasis.yaml). Entries are matched to terminology
exactly like FHIR records, so a profile and a bundle describing the same patient assess alike.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ldn_derm.errors import PatientDataError
from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.patient.dates import age_on, check_as_of
from ldn_derm.patient.derive import derive_pregnancy_and_lactation
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
from ldn_derm.patient.terminology import Matcher, matcher_for


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class ConditionEntry(_Entry):
    """A diagnosis: a name, a code, or both. `indication` names an LDN indication directly."""

    name: str | None = Field(default=None, max_length=300)
    icd10cm: str | None = Field(default=None, max_length=16)
    snomed: str | None = Field(default=None, pattern=r"^\d{4,20}$")
    indication: str | None = Field(default=None, max_length=200)
    status: Literal["active", "resolved"] = "active"
    onset: date | None = None
    resolved: date | None = None

    @model_validator(mode="after")
    def _something(self) -> ConditionEntry:
        if not (self.name or self.icd10cm or self.snomed or self.indication):
            raise ValueError("give a name, an icd10cm or snomed code, or an indication")
        return self


class MedicationEntry(_Entry):
    """A medicine by name (generic or brand) and/or RxNorm code, with its status and dates."""

    name: str | None = Field(default=None, max_length=300)
    rxnorm: str | None = Field(default=None, pattern=r"^\d{1,12}$")
    status: Literal["active", "on-hold", "stopped", "completed", "unknown"] = "active"
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _something(self) -> MedicationEntry:
        if not (self.name or self.rxnorm):
            raise ValueError("give a name or an rxnorm code")
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


class AllergyEntry(_Entry):
    name: str | None = Field(default=None, max_length=300)
    rxnorm: str | None = Field(default=None, pattern=r"^\d{1,12}$")
    status: Literal["active", "inactive", "resolved"] = "active"
    category: Literal["medication", "food", "environment", "biologic"] = "medication"

    @model_validator(mode="after")
    def _something(self) -> AllergyEntry:
        if not (self.name or self.rxnorm):
            raise ValueError("give a name or an rxnorm code")
        return self


class LabEntry(BaseModel):
    """A result: `lab` is a lab id from terminology.yaml (e.g. tsh, egfr) or give `loinc`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    lab: str | None = Field(default=None, max_length=40)
    loinc: str | None = Field(default=None, pattern=r"^\d{1,7}-\d$")
    taken: date = Field(alias="date")  # the YAML key is `date`
    # a number (never NaN or infinite), and not negative: no lab the rules read can be
    value: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    unit: str | None = Field(default=None, max_length=40)
    result: Literal["positive", "negative"] | None = None
    flag: Literal["high", "low", "normal"] | None = None

    @model_validator(mode="after")
    def _something(self) -> LabEntry:
        if not (self.lab or self.loinc):
            raise ValueError("give a lab id or a loinc code")
        if self.value is None and self.result is None:
            raise ValueError("give a value or a result")
        return self


class ProfileDocument(BaseModel):
    """The manual patient profile file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(default="manual-profile", min_length=1, max_length=64)
    birth_date: date | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    sex: Sex = Sex.UNKNOWN
    pregnancy: PregnancyStatus = PregnancyStatus.UNKNOWN
    lactating: bool | None = None
    conditions: list[ConditionEntry] = Field(default_factory=list, max_length=2000)
    medications: list[MedicationEntry] = Field(default_factory=list, max_length=2000)
    allergies: list[AllergyEntry] = Field(default_factory=list, max_length=500)
    labs: list[LabEntry] = Field(default_factory=list, max_length=5000)

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        if value is not None and value.year < 1850:
            raise ValueError("birth date before 1850")
        return value

    @model_validator(mode="after")
    def _one_age(self) -> ProfileDocument:
        if self.birth_date is not None and self.age is not None:
            raise ValueError("give birth_date or age, not both")
        return self


def profile_from_document(
    data: object, *, as_of: date, kb: KnowledgeBase | None = None
) -> PatientProfile:
    """Validate a parsed YAML/JSON document and turn it into a `PatientProfile`."""
    try:
        doc = ProfileDocument.model_validate(data)
    except ValidationError as exc:
        raise PatientDataError(f"patient profile: {_explain(exc)}") from None
    check_as_of(as_of)
    kb = kb or get_knowledge()
    matcher = matcher_for(kb)
    profile = _person(doc, as_of)
    for i, cond in enumerate(doc.conditions):
        _condition(profile, matcher, kb, cond, f"profile:conditions[{i}]")
    for i, med in enumerate(doc.medications):
        _medication(profile, matcher, med, f"profile:medications[{i}]")
    for i, allergy in enumerate(doc.allergies):
        _allergy(profile, matcher, allergy, f"profile:allergies[{i}]")
    for i, lab in enumerate(doc.labs):
        _lab(profile, matcher, lab, f"profile:labs[{i}]")
    derive_pregnancy_and_lactation(profile, matcher)
    return profile


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _person(doc: ProfileDocument, as_of: date) -> PatientProfile:
    if doc.birth_date is not None and doc.birth_date > as_of:
        raise PatientDataError(
            f"the as-of date {as_of.isoformat()} is before the birth date "
            f"{doc.birth_date.isoformat()}"
        )
    age = age_on(doc.birth_date, as_of) if doc.birth_date else doc.age
    profile = PatientProfile(
        id=doc.id,
        as_of=as_of,
        source="profile",
        sex=doc.sex,
        birth_date=doc.birth_date,
        age=age,
        patient_ref="profile",
        pregnancy=doc.pregnancy,
        pregnancy_refs=("profile:pregnancy",) if doc.pregnancy is PregnancyStatus.PREGNANT else (),
        lactating=doc.lactating,
        lactation_refs=("profile:lactating",) if doc.lactating else (),
    )
    if age is None:
        profile.not_assessed.append(
            NotAssessedItem("patient", "age", "not given: age-based checks skipped", "profile")
        )
    return profile


def _condition(
    profile: PatientProfile, m: Matcher, kb: KnowledgeBase, entry: ConditionEntry, ref: str
) -> None:
    if entry.onset is not None and entry.onset > profile.as_of:
        return
    codes: list[Code] = []
    if entry.icd10cm:
        codes.append(Code("icd10cm", entry.icd10cm))
    if entry.snomed:
        codes.append(Code("snomed", entry.snomed))
    texts = [entry.name] if entry.name else []
    match = m.match_condition(codes, texts)
    indications = match.indications
    how = match.indication_match
    if entry.indication:  # resolved like `ldn evidence CONDITION`: unknown names are an error
        indications = (kb.find_condition(entry.indication).id,)
        how = "stated"
    active = entry.status == "active" and (entry.resolved is None or entry.resolved > profile.as_of)
    fact = ConditionFact(
        ref=ref,
        text=entry.name or entry.indication or (codes[0].code if codes else "?"),
        codes=tuple(codes),
        active=active,
        onset=entry.onset,
        abated=entry.resolved,
        unconfirmed=False,
        concepts=match.concepts,
        indications=indications,
        indication_match=how,
        ambiguous=() if entry.indication else match.ambiguous,
    )
    profile.conditions.append(fact)
    if fact.ambiguous:
        profile.not_assessed.append(
            NotAssessedItem(
                "condition",
                fact.text,
                "the code is shared by several conditions (" + ", ".join(fact.ambiguous) + ")",
                ref,
            )
        )
    elif not fact.concepts and not fact.indications:
        profile.not_assessed.append(
            NotAssessedItem("condition", fact.text, "not recognised by any rule", ref)
        )


def _medication(profile: PatientProfile, m: Matcher, entry: MedicationEntry, ref: str) -> None:
    if entry.start is not None and entry.start > profile.as_of:
        return
    status = {
        "active": MedStatus.CURRENT,
        "on-hold": MedStatus.CURRENT,
        "stopped": MedStatus.PAST,
        "completed": MedStatus.PAST,
        "unknown": MedStatus.UNKNOWN,
    }[entry.status]
    if status is MedStatus.CURRENT and entry.end is not None and entry.end < profile.as_of:
        status = MedStatus.PAST
    codes = (Code("rxnorm", entry.rxnorm),) if entry.rxnorm else ()
    match = m.match_drug(codes, [entry.name] if entry.name else [])
    fact = MedicationFact(
        ref=ref,
        text=entry.name or f"rxnorm {entry.rxnorm}",
        codes=codes,
        status=status,
        raw_status=entry.status,
        start=entry.start,
        last_date=entry.end or entry.start,
        end_known=entry.end is not None,
        ingredients=match.ingredients,
        classes=match.classes,
        recognised=match.recognised,
        unrecognised_parts=match.unrecognised_parts,
        checked_by=match.checked_by,
        unlisted_ingredients=match.unlisted_ingredients,
    )
    profile.medications.append(fact)
    if not match.recognised:
        parts = ", ".join(match.unrecognised_parts) or "no usable name or code"
        profile.not_assessed.append(
            NotAssessedItem(
                "medication",
                fact.text,
                f"ingredients not recognised ({parts[:120]}): check it contains no opioid",
                ref,
            )
        )


def _allergy(profile: PatientProfile, m: Matcher, entry: AllergyEntry, ref: str) -> None:
    codes = (Code("rxnorm", entry.rxnorm),) if entry.rxnorm else ()
    match = m.match_drug(codes, [entry.name] if entry.name else [])
    fact = AllergyFact(
        ref=ref,
        text=entry.name or f"rxnorm {entry.rxnorm}",
        codes=codes,
        active=entry.status == "active",
        category=entry.category,
        ingredients=match.ingredients,
        classes=match.classes,
    )
    profile.allergies.append(fact)
    if not match.ingredients and entry.category in ("medication", "biologic"):
        profile.not_assessed.append(
            NotAssessedItem("allergy", fact.text, "substance not recognised", ref)
        )


def _lab(profile: PatientProfile, m: Matcher, entry: LabEntry, ref: str) -> None:
    if entry.taken > profile.as_of:
        return
    lab = entry.lab if entry.lab in m.lab_names else None
    if lab is None and entry.loinc:
        lab = m.lab_for([Code("loinc", entry.loinc)])
    if lab is None:
        known = ", ".join(sorted(m.lab_names))
        raise PatientDataError(
            f"{ref}: unknown lab '{entry.lab or entry.loinc}'; known lab ids: {known}"
        )
    profile.labs.append(
        LabFact(
            ref=ref,
            lab=lab,
            text=m.lab_names[lab],
            effective=entry.taken,
            value=entry.value,
            unit=entry.unit,
            result=entry.result,
            flag=entry.flag,
            value_text=entry.result,
        )
    )
