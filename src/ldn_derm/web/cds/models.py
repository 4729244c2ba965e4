"""CDS Hooks 2.0 request and feedback bodies as typed models, checked at the edge.

Every field the service or the core reads has its JSON type checked here, so a wrongly-typed
field is a 400 problem naming the field ("context.draftOrders.entry should be a list, not a
number") instead of an exception deep inside the core. The FHIR resources are checked in
shape only (the elements the core reads: codings, references, dosage, periods, status...);
the core keeps reading the parsed JSON itself, so a model here never changes what it sees.
Unknown members are ignored (CDS Hooks and FHIR both allow extensions).
"""

# ruff: noqa: N815  (field names are the JSON members of FHIR and CDS Hooks, in camelCase)
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)


class _Shape(BaseModel):
    """Strict JSON types (no "4.5" for a number, no 5 for a string); extra members ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


Number = float  # strict: a JSON number (int or float), never a string or a boolean
# FHIR strings and CDS Hooks ids; the database columns bound the stored ones (see feedback).
Id = Annotated[str, StringConstraints(min_length=1)]


# ---------------------------------------------------------------- FHIR data types (shape)


class Coding(_Shape):
    system: str | None = None
    version: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(_Shape):
    coding: list[Coding] | None = None
    text: str | None = None


class Reference(_Shape):
    reference: str | None = None
    display: str | None = None


class Quantity(_Shape):
    value: Number | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class Range(_Shape):
    low: Quantity | None = None
    high: Quantity | None = None


class Ratio(_Shape):
    numerator: Quantity | None = None
    denominator: Quantity | None = None


class Period(_Shape):
    start: str | None = None
    end: str | None = None


class TimingRepeat(_Shape):
    boundsPeriod: Period | None = None
    boundsDuration: Quantity | None = None
    frequency: Number | None = None
    frequencyMax: Number | None = None
    period: Number | None = None
    periodUnit: str | None = None
    when: list[str] | None = None


class Timing(_Shape):
    repeat: TimingRepeat | None = None
    code: CodeableConcept | None = None


class DoseAndRate(_Shape):
    doseQuantity: Quantity | None = None
    doseRange: Range | None = None


class Dosage(_Shape):
    sequence: int | None = None
    text: str | None = None
    timing: Timing | None = None
    doseAndRate: list[DoseAndRate] | None = None


class DispenseRequest(_Shape):
    validityPeriod: Period | None = None
    expectedSupplyDuration: Quantity | None = None


class Ingredient(_Shape):
    itemCodeableConcept: CodeableConcept | None = None
    itemReference: Reference | None = None
    strength: Ratio | None = None


# ---------------------------------------------------------------- FHIR resources (shape)


class _Resource(_Shape):
    resourceType: str
    id: str | None = None


class Patient(_Resource):
    resourceType: Literal["Patient"]
    gender: str | None = None
    birthDate: str | None = None
    deceasedBoolean: bool | None = None
    deceasedDateTime: str | None = None


class Condition(_Resource):
    resourceType: Literal["Condition"]
    code: CodeableConcept | None = None
    clinicalStatus: CodeableConcept | None = None
    verificationStatus: CodeableConcept | None = None
    subject: Reference | None = None
    onsetDateTime: str | None = None
    onsetPeriod: Period | None = None
    recordedDate: str | None = None
    abatementDateTime: str | None = None
    abatementPeriod: Period | None = None
    abatementString: str | None = None
    abatementBoolean: bool | None = None


class Medication(_Resource):
    resourceType: Literal["Medication"]
    code: CodeableConcept | None = None
    ingredient: list[Ingredient] | None = None


class _MedicationUse(_Resource):
    status: str | None = None
    subject: Reference | None = None
    medicationCodeableConcept: CodeableConcept | None = None
    medicationReference: Reference | None = None
    contained: list[Resource] | None = None


class MedicationRequest(_MedicationUse):
    resourceType: Literal["MedicationRequest"]
    intent: str | None = None
    authoredOn: str | None = None
    dosageInstruction: list[Dosage] | None = None
    dispenseRequest: DispenseRequest | None = None
    reasonCode: list[CodeableConcept] | None = None
    encounter: Reference | None = None
    requester: Reference | None = None


class MedicationStatement(_MedicationUse):
    resourceType: Literal["MedicationStatement"]
    effectiveDateTime: str | None = None
    effectivePeriod: Period | None = None
    dateAsserted: str | None = None
    dosage: list[Dosage] | None = None


class MedicationDispense(_MedicationUse):
    resourceType: Literal["MedicationDispense"]
    whenHandedOver: str | None = None
    whenPrepared: str | None = None
    daysSupply: Quantity | None = None


class AllergyIntolerance(_Resource):
    resourceType: Literal["AllergyIntolerance"]
    code: CodeableConcept | None = None
    clinicalStatus: CodeableConcept | None = None
    verificationStatus: CodeableConcept | None = None
    patient: Reference | None = None


class Observation(_Resource):
    resourceType: Literal["Observation"]
    status: str | None = None
    code: CodeableConcept | None = None
    subject: Reference | None = None
    effectiveDateTime: str | None = None
    effectivePeriod: Period | None = None
    effectiveInstant: str | None = None
    issued: str | None = None
    valueQuantity: Quantity | None = None
    valueCodeableConcept: CodeableConcept | None = None
    valueBoolean: bool | None = None
    valueString: str | None = None
    interpretation: list[CodeableConcept] | None = None


class OtherResource(_Resource):
    """Any other resource type (OperationOutcome, Encounter...): only its resourceType."""


class BundleLink(_Shape):
    relation: str | None = None
    url: str | None = None


class BundleEntry(_Shape):
    fullUrl: str | None = None
    resource: Resource | None = None


class Bundle(_Resource):
    resourceType: Literal["Bundle"]
    type: str | None = None
    link: list[BundleLink] | None = None
    entry: list[BundleEntry] | None = None


_TYPED: dict[str, type[_Resource]] = {
    "Patient": Patient,
    "Condition": Condition,
    "Medication": Medication,
    "MedicationRequest": MedicationRequest,
    "MedicationStatement": MedicationStatement,
    "MedicationDispense": MedicationDispense,
    "AllergyIntolerance": AllergyIntolerance,
    "Observation": Observation,
    "Bundle": Bundle,
}
_OTHER = "(other resource)"


def _resource_kind(value: Any) -> str:
    kind = value.get("resourceType") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) and kind in _TYPED else _OTHER


Resource = Annotated[
    Annotated[Patient, Tag("Patient")]
    | Annotated[Condition, Tag("Condition")]
    | Annotated[Medication, Tag("Medication")]
    | Annotated[MedicationRequest, Tag("MedicationRequest")]
    | Annotated[MedicationStatement, Tag("MedicationStatement")]
    | Annotated[MedicationDispense, Tag("MedicationDispense")]
    | Annotated[AllergyIntolerance, Tag("AllergyIntolerance")]
    | Annotated[Observation, Tag("Observation")]
    | Annotated[Bundle, Tag("Bundle")]
    | Annotated[OtherResource, Tag(_OTHER)],
    Discriminator(_resource_kind),
]
_TAGS = {*_TYPED, _OTHER}

for _model in (_MedicationUse, MedicationRequest, MedicationStatement, MedicationDispense):
    _model.model_rebuild()
BundleEntry.model_rebuild()
Bundle.model_rebuild()


# ---------------------------------------------------------------- CDS Hooks request


class FhirAuthorization(_Shape):
    access_token: Id
    token_type: str | None = None
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


# Draft orders one call may carry: an order set is tens of orders; each LDN draft is judged
# against all the others, so an unbounded Bundle would let one call hold the server for minutes.
MAX_DRAFT_ORDERS = 100


class DraftOrders(Bundle):
    entry: Annotated[list[BundleEntry], Field(max_length=MAX_DRAFT_ORDERS)] | None = None


class HookContext(_Shape):
    userId: str | None = None
    patientId: str | None = None
    encounterId: str | None = None
    selections: list[str] | None = None
    draftOrders: DraftOrders | None = None


class HookRequest(_Shape):
    """The body of a call to a CDS service (CDS Hooks 2.0 §HTTP Request)."""

    hook: Id
    hookInstance: Id
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: HookContext
    prefetch: dict[str, Resource | None] | None = None

    @model_validator(mode="after")
    def _server_with_token(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is given")
        return self


# ---------------------------------------------------------------- feedback

# RFC 3339 §5.6 date-time (what CDS Hooks 2.0.1 asks for outcomeTimestamp): a calendar date,
# a time with seconds, and a zone. ISO 8601's other forms (weeks, ordinal days, no zone) are not.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _stored(limit: int) -> Any:
    """Text stored in a column of `limit` characters: bounded, and no NUL (PostgreSQL refuses
    it in text)."""
    return StringConstraints(max_length=limit, pattern=r"^[^\x00]*$")


class OverrideCoding(_Shape):
    system: Annotated[str, _stored(300)] | None = None
    code: Annotated[str, _stored(100), StringConstraints(min_length=1)]
    display: Annotated[str, _stored(300)] | None = None


class OverrideReason(_Shape):
    reason: OverrideCoding | None = None
    userComment: Annotated[str, _stored(10_000)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> OverrideReason:
        # CDS Hooks 2.0.1 §OverrideReason: a reason (Coding) or the clinician's comment; an
        # override without either is sent without overrideReason at all (§Overridden guidance).
        if self.reason is None and not self.userComment:
            raise ValueError(
                "is empty: give reason (a Coding) or userComment, or leave overrideReason out"
            )
        return self


class AcceptedSuggestion(_Shape):
    id: Annotated[str, _stored(100), StringConstraints(min_length=1)]


class FeedbackItem(_Shape):
    card: Annotated[str, _stored(100), StringConstraints(min_length=1)]
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: Annotated[list[AcceptedSuggestion], Field(max_length=100)] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str

    @field_validator("outcomeTimestamp")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        if not _RFC3339.fullmatch(value):
            raise ValueError(
                "should be an RFC 3339 date-time with seconds and a zone, e.g. 2026-11-26T10:05:31Z"
            )
        try:
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("is not a real date and time") from None
        return value

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required for an accepted outcome")
        return self

    @property
    def timestamp(self) -> datetime:
        stamp = datetime.fromisoformat(self.outcomeTimestamp.upper().replace("Z", "+00:00"))
        return stamp.astimezone(UTC)


class FeedbackRequest(_Shape):
    feedback: Annotated[list[FeedbackItem], Field(max_length=1000)]


# ---------------------------------------------------------------- plain-words errors

_JSON_TYPE = {
    dict: "an object",
    list: "a list",
    str: "text",
    bool: "true or false",
    int: "a number",
    float: "a number",
    type(None): "null",
}
_EXPECTED = {
    "string_type": "should be text",
    "list_type": "should be a list",
    "dict_type": "should be an object",
    "model_type": "should be an object",
    "model_attributes_type": "should be an object",
    "float_type": "should be a number",
    "int_type": "should be a whole number",
    "bool_type": "should be true or false",
    "missing": "is required",
    "string_too_short": "should not be empty",
}


def _where(loc: tuple[int | str, ...], prefix: str) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS or part == "function-after":
            continue  # the resource type a union chose, or a validator's own step
        else:
            out += f".{part}" if out else str(part)
    return out


def _what(value: Any) -> str:
    return _JSON_TYPE.get(type(value), "something else")


def plain_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Each error as {field, message} in plain words, e.g. ('context.draftOrders.entry',
    'should be a list, not a number')."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        kind = err["type"]
        field = _where(tuple(err["loc"]), prefix)
        if kind in {"value_error", "assertion_error"}:
            message = str(err["msg"]).removeprefix("Value error, ")
        elif kind == "literal_error":
            message = f"should be {err['ctx']['expected']}"
        elif kind in _EXPECTED:
            message = _EXPECTED[kind]
            if kind != "missing":
                message += f", not {_what(err['input'])}"
        elif kind == "string_too_long":
            message = f"is longer than {err['ctx']['max_length']} characters"
        elif kind == "string_pattern_mismatch":
            message = "holds a NUL character"
        elif kind == "too_long":
            message = f"has more than {err['ctx']['max_length']} items"
        else:
            message = str(err["msg"])
        out.append({"field": field, "message": message})
    return out


def describe(errors: list[dict[str, str]]) -> str:
    first = errors[0]
    text = f"{first['field']} {first['message']}." if first["field"] else f"{first['message']}."
    text = text[0].upper() + text[1:] if not first["field"] else text
    if len(errors) > 1:
        text += f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} in `errors`.)"
    return text
