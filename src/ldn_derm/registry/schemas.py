"""Pydantic models at the registry's boundary: what a form, the API or an import may hand in.

Every value is range-checked here, with a message a clinician understands; `parse()` turns a
pydantic ValidationError into a `RegistryInputError` that names each bad field. The database
repeats the most important ranges as CHECK constraints (see models.py) as a second line.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ldn_derm.registry.errors import RegistryInputError
from ldn_derm.registry.vocab import (
    MEASURES,
    Adherence,
    DoseTime,
    GlobalScale,
    Measure,
    Role,
    Severity,
    Sex,
    SideEffect,
    StopReason,
)

# The top of naltrexone's standard oral range (knowledge base: drug.standard_dose, 50–100 mg/day):
# the outer bound the database also enforces. Within it, doses go through the prescribing
# module's check (the low-dose range; titration steps from the cited floor; 0 = paused).
MAX_DOSE_MG = 100.0
EARLIEST_DATE = date(1900, 1, 1)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{8,64}$")]

FIELD_LABELS: dict[str, str] = {
    "given_name": "Given name",
    "family_name": "Family name",
    "birth_date": "Birth date",
    "sex": "Sex",
    "condition_id": "Condition",
    "primary_measure": "Primary outcome measure",
    "start_date": "Start date",
    "stop_date": "Stop date",
    "stop_reason": "Stop reason",
    "visit_date": "Visit date",
    "dose_mg": "Dose (mg/day)",
    "dose_time": "Time of day",
    "adherence": "Adherence",
    "investigator_global_scale": "Global assessment scale",
    "notes": "Notes",
    "regimen": "Regimen",
    "start_dose_mg": "Start dose (mg/day)",
    "target_dose_mg": "Target dose (mg/day)",
    "username": "User name",
    "password": "Password",
    "role": "Role",
    "version": "Version",
    **{m.value: spec.short for m, spec in MEASURES.items()},
}


def _types_in(annotation: Any) -> set[Any]:
    """Every type an annotation admits (through Optional, unions and Annotated)."""
    args = get_args(annotation)
    if not args:
        return {annotation}
    return set().union(*(_types_in(a) for a in args))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_silent_conversion(cls, data: Any) -> Any:
        """JSON true is not a dose of 1 mg, nor a version; a number is not a date (pydantic's
        lax mode converts both). Text from a form is still read as numbers and dates."""
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None:
                continue
            admits = _types_in(field.annotation)
            if isinstance(value, bool) and bool not in admits:
                raise ValueError(f"should be a number or text, not {str(value).lower()} [{name}]")
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and date in admits and not admits & {int, float, Decimal}:
                raise ValueError(f"should be a date (YYYY-MM-DD), not a number [{name}]")
        return data


def _range(value: float) -> None:
    if not (0 <= value <= MAX_DOSE_MG):
        raise ValueError(f"must be between 0 and {MAX_DOSE_MG:g} mg/day (got {value:.10g})")


def _checked(value: float, *, step: bool) -> float:
    """The prescribing module's dose check (regimen.validate_dose): the same range, the same
    slip hints (45 mg is 10x 4.5 mg). A titration step may lie below the range down to the
    cited floor; 0 means paused."""
    from ldn_derm.errors import DoseError
    from ldn_derm.regimen.dose import validate_dose

    _range(value)
    if value == 0:
        return 0.0
    try:
        return float(validate_dose(Decimal(f"{round(value, 3):.10g}"), titration_step=step).mg)
    except DoseError as exc:
        # the registry has no overrides: it records LDN courses inside the checked range
        message = str(exc).split(". A dose between")[0].split(". Allow standard")[0]
        raise ValueError(f"{message} (the registry records low-dose courses only)") from None


def _dose(value: float) -> float:
    """A dose taken or planned as a step: 0 (paused), the titration floor up to the range."""
    return _checked(value, step=True)


def _target(value: float) -> float:
    """A target dose: inside the low-dose range."""
    return _checked(value, step=False)


def _not_future(value: date) -> date:
    if value > date.today() + timedelta(days=1):  # one day of slack for time zones
        raise ValueError(f"is in the future ({value.isoformat()})")
    if value < EARLIEST_DATE:
        raise ValueError(f"is implausibly early ({value.isoformat()})")
    return value


# ------------------------------------------------------------------ patients


class PatientIn(_In):
    """A new patient: identifying fields (kept in a separate table) plus sex."""

    given_name: Name
    family_name: Name
    birth_date: date
    sex: Sex = Sex.UNKNOWN
    source_system: Annotated[str, StringConstraints(max_length=200)] | None = None
    source_id: Annotated[str, StringConstraints(max_length=200)] | None = None

    _birth = field_validator("birth_date")(_not_future)


class PatientUpdate(_In):
    version: int = Field(ge=1)
    given_name: Name | None = None
    family_name: Name | None = None
    birth_date: date | None = None
    sex: Sex | None = None

    @field_validator("birth_date")
    @classmethod
    def _birth(cls, value: date | None) -> date | None:
        return None if value is None else _not_future(value)


# ------------------------------------------------------------------ courses


class RegimenStep(_In):
    day: int = Field(ge=0, le=3650)
    dose_mg: float
    time_of_day: DoseTime = DoseTime.BEDTIME

    _dose = field_validator("dose_mg")(_dose)


class RegimenSummary(_In):
    """A JSON summary of the planned regimen (the prescribing module's output, or typed in)."""

    start_dose_mg: float
    target_dose_mg: float
    time_of_day: DoseTime = DoseTime.BEDTIME
    steps: list[RegimenStep] = Field(default_factory=list, max_length=60)
    formulation: Annotated[str, StringConstraints(max_length=200)] | None = None
    source: Annotated[str, StringConstraints(max_length=100)] = "entered"
    note: Notes | None = None

    _start = field_validator("start_dose_mg")(_dose)
    _target = field_validator("target_dose_mg")(_target)

    @model_validator(mode="after")
    def _steps_in_order(self) -> RegimenSummary:
        days = [s.day for s in self.steps]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("regimen steps must be in order of day, one step per day")
        return self

    def label(self) -> str:
        if self.start_dose_mg == self.target_dose_mg:
            return f"{self.target_dose_mg:g} mg/day at {self.time_of_day.value}"
        return (
            f"{self.start_dose_mg:g} → {self.target_dose_mg:g} mg/day at {self.time_of_day.value}"
        )


class CourseIn(_In):
    condition_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    primary_measure: Measure | None = None  # None -> the condition's default
    regimen: RegimenSummary
    start_date: date
    notes: Notes | None = None

    _start = field_validator("start_date")(_not_future)


class CourseUpdate(_In):
    version: int = Field(ge=1)
    primary_measure: Measure | None = None
    regimen: RegimenSummary | None = None
    stop_date: date | None = None
    stop_reason: StopReason | None = None
    stop_detail: Annotated[str, StringConstraints(max_length=500)] | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _stop_pair(self) -> CourseUpdate:
        if (self.stop_date is None) != (self.stop_reason is None):
            raise ValueError("a stop needs both a stop date and a stop reason")
        if self.stop_date is not None:
            _not_future(self.stop_date)
        return self


# ------------------------------------------------------------------ visits


class SideEffectIn(_In):
    effect: SideEffect
    severity: Severity = Severity.MILD
    detail: Annotated[str, StringConstraints(max_length=200)] | None = None


class _VisitFields(_In):
    visit_date: date
    dose_mg: float
    dose_time: DoseTime
    itch_nrs: float | None = None
    pasi: float | None = None
    bsa_percent: float | None = None
    dlqi: float | None = None
    lppai: float | None = None
    investigator_global: float | None = None
    investigator_global_scale: GlobalScale | None = None
    adherence: Adherence | None = None
    side_effects: list[SideEffectIn] = Field(default_factory=list, max_length=len(SideEffect))
    notes: Notes | None = None

    _date = field_validator("visit_date")(_not_future)
    _dose = field_validator("dose_mg")(_dose)

    @field_validator("itch_nrs", "pasi", "bsa_percent", "dlqi", "lppai", "investigator_global")
    @classmethod
    def _in_range(cls, value: float | None, info: Any) -> float | None:
        if value is None:
            return None
        problem = MEASURES[Measure(info.field_name)].check(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _VisitFields:
        if self.investigator_global is not None and self.investigator_global_scale is None:
            raise ValueError(
                "say which global scale the 0–4 score uses (IGA, PGA or other) "
                "[investigator_global_scale]"
            )
        effects = [s.effect for s in self.side_effects]
        if len(set(effects)) != len(effects):
            raise ValueError("each side effect may be listed once per visit [side_effects]")
        return self

    def measures(self) -> dict[Measure, float]:
        return {m: v for m in Measure if (v := getattr(self, m.value)) is not None}


class VisitIn(_VisitFields):
    # Set by the form when it is rendered: a re-submitted form (double click, retry after a
    # timeout) returns the visit already stored instead of writing it twice.
    client_token: Token | None = None


class VisitUpdate(_VisitFields):
    version: int = Field(ge=1)


# ------------------------------------------------------------------ accounts


class UserIn(_In):
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._@-]{2,64}$")
    ]
    # never stripped: login compares the password as typed (spaces included)
    password: Annotated[
        str, StringConstraints(strip_whitespace=False, min_length=8, max_length=1024)
    ]
    role: Role
    clinic: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @model_validator(mode="after")
    def _clinic_for_clinicians(self) -> UserIn:
        if self.role is Role.CLINICIAN and not self.clinic:
            raise ValueError("a clinician needs a clinic [clinic]")
        return self


# ------------------------------------------------------------------ conversion

M = TypeVar("M", bound=BaseModel)


def _has_nul(data: object) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in data.items())
    if isinstance(data, list | tuple):
        return any(_has_nul(v) for v in data)
    return False


def parse(model: type[M], data: object, what: str) -> M:
    """Validate `data` as `model`, or raise RegistryInputError naming every bad field."""
    if _has_nul(data):  # PostgreSQL cannot store NUL in text; no real entry contains one
        raise RegistryInputError(f"{what}: text must not contain NUL characters")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            msg = str(err["msg"]).removeprefix("Value error, ")
            if not loc and msg.endswith("]") and "[" in msg:  # model-level check naming a field
                msg, _, name = msg[:-1].rpartition(" [")
                loc = [name]
            key = ".".join(loc) if loc else "_"
            fields.setdefault(key, msg)
        parts = []
        for key, msg in fields.items():
            label = FIELD_LABELS.get(key.split(".")[-1], key) if key != "_" else ""
            if key.startswith("regimen.") and label:
                label = f"Regimen {label[0].lower()}{label[1:]}"
            parts.append(f"{label}: {msg}" if label else msg)
        raise RegistryInputError(f"{what}: " + "; ".join(parts), fields) from None
