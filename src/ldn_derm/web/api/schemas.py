"""Request and response bodies of the REST API (they document themselves in /openapi.json)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ldn_derm.patient.manual import ProfileDocument

if TYPE_CHECKING:
    from ldn_derm.regimen.pipeline import PrescriptionRequest


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- knowledge


class ReferenceOut(BaseModel):
    id: str
    text: str
    link: str | None
    authors: str | None
    title: str
    journal: str | None
    year: int | None
    pmid: str | None
    doi: str | None
    url: str | None
    certainty: str
    unverified: list[str]
    note: str | None


class ConditionOut(BaseModel):
    id: str
    name: str
    group: str | None
    icd10cm: list[str]
    snomed: list[str]
    studies: int
    improved: int
    improved_low_dose: int  # at a low dose, or one the source does not report
    improved_higher_dose_only: int  # only above the low-dose range (e.g. 50 mg/day): not LDN
    mixed_or_no_benefit: int
    negative_controlled_low_dose: list[str]  # entry ids of negative controlled low-dose studies
    low_dose_studies: int
    doses: list[str]
    summary: str
    note: str | None


class EvidenceOut(BaseModel):
    id: str
    condition: str
    study: str
    design: str
    n: int | None
    dose: str | None
    dose_low_mg_per_day: float | None
    dose_high_mg_per_day: float | None
    dose_class: str
    dose_note: str | None
    duration: str | None
    outcome: str
    effect: str
    measures: list[str]
    time_to_response: str | None
    adverse_events: str | None
    add_on_to: str | None  # what naltrexone was given with (an add-on study); None: not reported
    conflicts: str | None
    certainty: str
    references: list[str]


class EvidencePageOut(BaseModel):
    condition: ConditionOut
    evidence: list[EvidenceOut]
    references: list[ReferenceOut]


class VersionOut(BaseModel):
    app: str
    knowledge_base: str
    reviewed: str


# ---------------------------------------------------------------- assessment


class AssessIn(Model):
    """Exactly one of `bundle` (a FHIR R4 Bundle) or `profile` (the manual patient profile, as
    `ldn assess` reads it from YAML/JSON)."""

    bundle: dict[str, Any] | None = Field(default=None, description="A FHIR R4 Bundle")
    profile: ProfileDocument | None = None
    as_of: date | None = Field(default=None, description="Assess as of this date (default today)")

    @model_validator(mode="after")
    def _one_source(self) -> AssessIn:
        if (self.bundle is None) == (self.profile is None):
            raise ValueError("give exactly one of 'bundle' or 'profile'")
        return self


# ---------------------------------------------------------------- prescribing


class PrescribeIn(Model):
    """A regimen (preset or explicit titration) for one condition, compounded as capsules or
    liquid. Numbers are mg/day; parameters a preset's source leaves unreported must be given."""

    condition: str = Field(min_length=1, max_length=200, examples=["psoriasis"])
    preset: str | None = Field(default=None, max_length=100, description="Titration protocol id")
    target_mg: float | None = Field(default=None, gt=0, le=50, description="Target daily dose")
    start_mg: float | None = Field(default=None, gt=0, le=50)
    step_mg: float | None = Field(default=None, gt=0, le=50)
    interval_days: int | None = Field(default=None, ge=1, le=180)
    days: int = Field(default=90, ge=1, le=365, description="Length of the prescription")
    time: Literal["bedtime", "morning"] | None = None
    form: Literal["capsule", "liquid"] = "capsule"
    salt: Literal["hcl", "base"] = "hcl"
    concentration_mg_per_ml: float | None = Field(default=None, gt=0, le=50)
    paper: Literal["a4", "letter"] = "a4"
    override_reason: str | None = Field(
        default=None, max_length=500, description="Shorthand for overrides.contraindication"
    )
    overrides: dict[
        Literal["contraindication", "above-low-dose", "opioid-free-interval", "evidence"],
        Annotated[str, Field(max_length=500)],
    ] = Field(
        default_factory=dict,
        description="Override option -> the prescriber's reason (a few words, not a placeholder)",
    )
    bundle: dict[str, Any] | None = Field(
        default=None, description="The patient's FHIR R4 Bundle (checked for contraindications)"
    )

    def to_request(self) -> PrescriptionRequest:
        """The core pipeline's request (regimen.pipeline), as the CLI builds it."""
        from ldn_derm.regimen.pipeline import PrescriptionRequest

        concentration = (  # the field is in mg/mL: the core reads a quantity with its unit
            f"{self.concentration_mg_per_ml:g} mg/mL"
            if self.concentration_mg_per_ml is not None and self.form == "liquid"
            else None
        )
        return PrescriptionRequest(
            condition=self.condition,
            target_mg=self.target_mg,
            start_mg=self.start_mg,
            step_mg=self.step_mg,
            interval_days=self.interval_days,
            days=self.days,
            time=self.time,
            preset=self.preset,
            form=self.form,
            salt=self.salt,
            concentration=concentration,
            override_reason=self.override_reason,
            overrides={str(k): v for k, v in self.overrides.items()},
        )


# ---------------------------------------------------------------- simulation


class SimulateIn(Model):
    doses_mg: list[float] = Field(
        default_factory=lambda: [4.5],
        min_length=1,
        max_length=6,
        description="Daily doses to compare",
    )
    dose_time: str = Field(
        default="22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Clock time (HH:MM)"
    )
    days: int = Field(default=3, ge=1, le=14)
    subjects: int = Field(default=200, ge=1, le=2000)
    seed: int = Field(default=1, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _doses(self) -> SimulateIn:
        for d in self.doses_mg:
            if not 0 < d <= 100:
                raise ValueError("each dose must be above 0 and at most 100 mg")
        return self
