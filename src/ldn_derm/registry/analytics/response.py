"""Did a course respond, and when? The registry's operational definition, applied per course.

OPERATIONAL DEFINITION (the registry's, for counting; not a clinical standard):
- Each course is judged on ONE measure: its primary measure (chosen per course; by default PASI
  for psoriasis, LPPAI for lichen planopilaris, the 0–4 global score for Hailey-Hailey disease,
  itch NRS otherwise).
- Baseline = the first visit of the course that recorded that measure.
- Response = a later visit meeting the measure's rule (vocab.MEASURES[...].response): ≥50%
  reduction from baseline for itch NRS, PASI (PASI 50), BSA %, DLQI and LPPAI; for the global
  score, 0 or 1 with at least 2 grades of improvement.
- Evaluable = baseline meets the rule's minimum (a patient with no itch cannot halve it) and at
  least one later visit recorded the measure.
- Time to response = days from the course start date to the first responding visit. Courses that
  did not respond are censored at their last visit recording the measure (Kaplan–Meier).
- Dose band = the highest daily dose recorded at any visit of the course (the titration maximum;
  the planned target when no visit has been recorded).
"""

from __future__ import annotations

from dataclasses import dataclass

from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry.views import CourseView
from ldn_derm.registry.vocab import MEASURES, Measure

# Splits the cited low-dose range (knowledge base: canonical_low_dose, 1.5–4.5 mg/day) in two at
# 3 mg: the registry's choice, to separate "low" titration steps from the usual 4.5 mg target.
BAND_SPLIT_MG = 3.0


def dose_bands() -> list[str]:
    low = get_knowledge().drug.canonical_low_dose
    return [
        f"<{low.low:g} mg",
        f"{low.low:g}–<{BAND_SPLIT_MG:g} mg",
        f"{BAND_SPLIT_MG:g}–{low.high:g} mg",
        f">{low.high:g} mg",
    ]


def dose_band(max_dose_mg: float) -> str:
    low = get_knowledge().drug.canonical_low_dose
    bands = dose_bands()
    if max_dose_mg < low.low:
        return bands[0]
    if max_dose_mg < BAND_SPLIT_MG:
        return bands[1]
    if max_dose_mg <= low.high:
        return bands[2]
    return bands[3]


@dataclass(frozen=True)
class CourseOutcome:
    course_id: int
    condition_id: str
    measure: Measure
    max_dose_mg: float
    dose_band: str
    evaluable: bool
    why_not: str | None
    baseline: float | None
    responded: bool
    response_day: int | None  # days from start to the first responding visit
    followup_day: int | None  # days from start to the last visit with the measure

    @property
    def km_time(self) -> int | None:
        """Duration for Kaplan–Meier: response day if responded, else censoring day."""
        return self.response_day if self.responded else self.followup_day


def max_dose(course: CourseView) -> float:
    if course.visits:
        return max(v.dose_mg for v in course.visits)
    return float(course.regimen.get("target_dose_mg") or 0.0)


def evaluate(course: CourseView, measure: Measure | None = None) -> CourseOutcome:
    measure = measure or course.primary_measure
    rule = MEASURES[measure].response
    top = max_dose(course)
    points = [(v.day, val) for v in course.visits if (val := v.value(measure)) is not None]

    def result(
        why_not: str | None,
        baseline: float | None = None,
        day: int | None = None,
        last: int | None = None,
    ) -> CourseOutcome:
        return CourseOutcome(
            course_id=course.id,
            condition_id=course.condition_id,
            measure=measure,
            max_dose_mg=top,
            dose_band=dose_band(top),
            evaluable=why_not is None,
            why_not=why_not,
            baseline=baseline,
            responded=day is not None,
            response_day=day,
            followup_day=last,
        )

    if not points:
        return result(f"no {MEASURES[measure].short} recorded")
    base_date, baseline = points[0]
    if baseline < rule.min_baseline:
        return result(f"baseline {MEASURES[measure].short} too low to judge", baseline)
    later = [(d, val) for d, val in points[1:] if d > base_date]
    if not later:
        return result("no follow-up visit yet", baseline)
    last_day = max(0, later[-1][0])
    for d, val in later:
        if rule.responded(baseline, val):
            return result(None, baseline, max(0, d), last_day)
    return result(None, baseline, None, last_day)
