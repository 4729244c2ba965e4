"""Controlled vocabularies of the registry: roles, dose timing, adherence, side effects, measures.

One place for each list, so the database checks, the forms, the API schema, the FHIR export and
the analytics all agree. The outcome measures carry their valid range and the registry's
*operational* response definition (see `ResponseRule`); these definitions are choices made for
this registry to count responders consistently, not clinical standards.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CLINICIAN = "clinician"  # own clinic's patients, identified
    RESEARCHER = "researcher"  # pseudonymised cohort data only
    ADMIN = "admin"  # accounts; no patient data


class DoseTime(StrEnum):
    MORNING = "morning"
    BEDTIME = "bedtime"


class Sex(StrEnum):
    """FHIR administrative gender (what a FHIR Patient carries)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Adherence(StrEnum):
    ALL = "all"  # all or nearly all doses taken
    MOST = "most"  # missed a few doses
    SOME = "some"  # missed many doses
    NONE = "none"  # not taking it

    @property
    def label(self) -> str:
        return {
            "all": "All or nearly all doses",
            "most": "Missed a few doses",
            "some": "Missed many doses",
            "none": "Not taking it",
        }[self.value]


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class SideEffect(StrEnum):
    """Effects named in the sources on LDN (FACTS.md: sleep disturbance with vivid dreams,
    nightmares, headache, anxiety, insomnia, nausea, fatigue); anything else is `other`."""

    VIVID_DREAMS = "vivid-dreams"
    INSOMNIA = "insomnia"
    HEADACHE = "headache"
    NAUSEA = "nausea"
    FATIGUE = "fatigue"
    ANXIETY = "anxiety"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "vivid-dreams": "Vivid dreams / nightmares",
            "insomnia": "Sleep disturbance / insomnia",
            "headache": "Headache",
            "nausea": "Nausea",
            "fatigue": "Fatigue",
            "anxiety": "Anxiety",
            "other": "Other",
        }[self.value]


class StopReason(StrEnum):
    GOAL_REACHED = "goal-reached"
    NO_RESPONSE = "no-response"
    SIDE_EFFECTS = "side-effects"
    PATIENT_CHOICE = "patient-choice"
    COST_OR_SUPPLY = "cost-or-supply"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "goal-reached": "Treatment goal reached",
            "no-response": "No response",
            "side-effects": "Side effects",
            "patient-choice": "Patient's choice",
            "cost-or-supply": "Cost or supply",
            "other": "Other",
        }[self.value]


class GlobalScale(StrEnum):
    """Which 0–4 investigator/physician global scale a visit's global score uses."""

    IGA = "iga"
    PGA = "pga"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "iga": "IGA (Investigator's Global Assessment, 0 clear – 4 severe)",
            "pga": "PGA (Physician's Global Assessment, 0 clear – 4 severe)",
            "other": "Other 0–4 global scale (say which in the notes)",
        }[self.value]


class Measure(StrEnum):
    ITCH_NRS = "itch_nrs"
    PASI = "pasi"
    BSA = "bsa_percent"
    DLQI = "dlqi"
    LPPAI = "lppai"
    GLOBAL = "investigator_global"


@dataclass(frozen=True)
class ResponseRule:
    """Response = value at a follow-up visit compared with the course's baseline visit.

    `min_relative_drop`: response when (baseline - value) / baseline >= this (e.g. 0.5 = 50%).
    `max_value` / `min_drop`: response when value <= max_value AND baseline - value >= min_drop.
    `min_baseline`: a course is evaluable on this measure only if its baseline is at least this.
    """

    text: str
    min_baseline: float
    min_relative_drop: float | None = None
    max_value: float | None = None
    min_drop: float | None = None

    def responded(self, baseline: float, value: float) -> bool:
        if baseline < self.min_baseline:
            return False
        if self.min_relative_drop is not None:
            return (baseline - value) >= self.min_relative_drop * baseline - 1e-9
        assert self.max_value is not None and self.min_drop is not None
        return value <= self.max_value and (baseline - value) >= self.min_drop


@dataclass(frozen=True)
class MeasureSpec:
    key: Measure
    label: str
    short: str
    low: float
    high: float
    integer: bool
    unit: str  # UCUM-ish unit for display and FHIR valueQuantity
    response: ResponseRule

    def check(self, value: float) -> str | None:
        """What is wrong with a value (to show after the measure's name), or None."""
        if not (self.low <= value <= self.high):
            return f"must be between {self.low:g} and {self.high:g} (got {value:.10g})"
        if self.integer and value != int(value):
            return f"must be a whole number (got {value:.10g})"
        return None


_HALF = "≥50% reduction from the baseline visit"


def _spec(
    key: Measure, label: str, short: str, high: float, integer: bool, unit: str, rule: ResponseRule
) -> MeasureSpec:
    return MeasureSpec(
        key=key,
        label=label,
        short=short,
        low=0,
        high=high,
        integer=integer,
        unit=unit,
        response=rule,
    )


MEASURES: dict[Measure, MeasureSpec] = {
    m.key: m
    for m in (
        _spec(
            Measure.ITCH_NRS,
            "Itch numeric rating scale (0 none – 10 worst imaginable)",
            "Itch NRS",
            high=10,
            integer=True,
            unit="{score}",
            rule=ResponseRule(f"{_HALF} (baseline ≥ 1)", min_baseline=1, min_relative_drop=0.5),
        ),
        _spec(
            Measure.PASI,
            "PASI (Psoriasis Area and Severity Index, 0–72)",
            "PASI",
            high=72,
            integer=False,
            unit="{score}",
            rule=ResponseRule(
                f"PASI 50: {_HALF} (baseline > 0)", min_baseline=0.1, min_relative_drop=0.5
            ),
        ),
        _spec(
            Measure.BSA,
            "Body surface area affected (%)",
            "BSA %",
            high=100,
            integer=False,
            unit="%",
            rule=ResponseRule(f"{_HALF} (baseline > 0%)", min_baseline=0.1, min_relative_drop=0.5),
        ),
        _spec(
            Measure.DLQI,
            "DLQI (Dermatology Life Quality Index, 0–30)",
            "DLQI",
            high=30,
            integer=True,
            unit="{score}",
            rule=ResponseRule(f"{_HALF} (baseline ≥ 1)", min_baseline=1, min_relative_drop=0.5),
        ),
        _spec(
            Measure.LPPAI,
            "LPPAI (Lichen Planopilaris Activity Index, 0–10)",
            "LPPAI",
            high=10,
            integer=False,
            unit="{score}",
            rule=ResponseRule(f"{_HALF} (baseline > 0)", min_baseline=0.1, min_relative_drop=0.5),
        ),
        _spec(
            Measure.GLOBAL,
            "Investigator/physician global assessment (0 clear – 4 severe)",
            "Global 0–4",
            high=4,
            integer=True,
            unit="{score}",
            rule=ResponseRule(
                "score 0 or 1 and at least 2 grades better than the baseline visit (baseline ≥ 2)",
                min_baseline=2,
                max_value=1,
                min_drop=2,
            ),
        ),
    )
}

# The measure a new course is judged by unless the clinician picks another: the registry's choice,
# by what each condition's studies mostly report (FACTS.md); it can be changed per course.
_PRIMARY_BY_NAME: tuple[tuple[str, Measure], ...] = (
    ("psoriasis", Measure.PASI),
    ("planopilaris", Measure.LPPAI),
    ("hailey", Measure.GLOBAL),
)


def default_primary_measure(condition_id: str) -> Measure:
    """PASI for psoriasis, LPPAI for lichen planopilaris, global score for Hailey-Hailey disease,
    itch NRS for everything else (the pruritus conditions)."""
    for word, measure in _PRIMARY_BY_NAME:
        if word in condition_id:
            return measure
    return Measure.ITCH_NRS
