"""Cohort numbers: response by condition × dose band, time to response, side effects, dosing
switches after vivid dreams, and the clinic's results beside the published studies."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ldn_derm.knowledge import get_knowledge
from ldn_derm.knowledge.base import ConditionSummary
from ldn_derm.registry.analytics.response import CourseOutcome, dose_bands, evaluate
from ldn_derm.registry.analytics.stats import MedianTime, Proportion, km_median, wilson_interval
from ldn_derm.registry.views import CourseView, condition_name
from ldn_derm.registry.vocab import MEASURES, Severity, SideEffect


@dataclass(frozen=True)
class ResponseCell:
    condition_id: str
    condition_name: str
    band: str  # a dose band, or "all doses"
    measures: tuple[str, ...]
    rate: Proportion
    not_evaluable: int


@dataclass(frozen=True)
class SideEffectRow:
    effect: str
    label: str
    courses: Proportion  # courses with the effect at any visit / all courses with a visit
    by_severity: dict[str, int]  # worst severity per course


@dataclass(frozen=True)
class DreamsSwitch:
    """Courses with vivid dreams while dosing at bedtime, and how many then moved to morning."""

    with_dreams_at_bedtime: int
    switched_to_morning: Proportion
    stopped_for_side_effects: int


@dataclass(frozen=True)
class PublishedComparison:
    condition_id: str
    condition_name: str
    clinic_rate: Proportion
    clinic_median: MedianTime
    published: ConditionSummary | None

    def published_line(self) -> str:
        if self.published is None or self.published.studies == 0:
            return "no studies in the knowledge base"
        return self.published.line()


@dataclass(frozen=True)
class CohortReport:
    courses: int
    patients: int
    visits: int
    outcomes: list[CourseOutcome]
    response: list[ResponseCell]
    time_to_response: dict[str, MedianTime]
    side_effects: list[SideEffectRow]
    dreams: DreamsSwitch
    published: list[PublishedComparison]
    definitions: dict[str, str] = field(default_factory=dict)


def response_cells(outcomes: list[CourseOutcome]) -> list[ResponseCell]:
    by_cond: dict[str, list[CourseOutcome]] = defaultdict(list)
    for o in outcomes:
        by_cond[o.condition_id].append(o)
    cells: list[ResponseCell] = []
    for cond_id in sorted(by_cond, key=condition_name):
        group = by_cond[cond_id]
        for band in [*dose_bands(), "all doses"]:
            members = group if band == "all doses" else [o for o in group if o.dose_band == band]
            if not members:
                continue
            evaluable = [o for o in members if o.evaluable]
            cells.append(
                ResponseCell(
                    condition_id=cond_id,
                    condition_name=condition_name(cond_id),
                    band=band,
                    measures=tuple(sorted({MEASURES[o.measure].short for o in evaluable})),
                    rate=wilson_interval(sum(o.responded for o in evaluable), len(evaluable)),
                    not_evaluable=len(members) - len(evaluable),
                )
            )
    return cells


def time_to_response(outcomes: list[CourseOutcome]) -> dict[str, MedianTime]:
    by_cond: dict[str, list[CourseOutcome]] = defaultdict(list)
    for o in outcomes:
        if o.evaluable and o.km_time is not None:
            by_cond[o.condition_id].append(o)
    return {
        cond: km_median([float(o.km_time or 0) for o in group], [o.responded for o in group])
        for cond, group in sorted(by_cond.items())
    }


def side_effect_rows(courses: list[CourseView]) -> list[SideEffectRow]:
    seen = [c for c in courses if c.visits]
    rank = {s.value: i for i, s in enumerate(Severity)}
    rows = []
    for effect in SideEffect:
        worst: list[str] = []
        for c in seen:
            sev = [e.severity for v in c.visits for e in v.side_effects if e.effect == effect.value]
            if sev:
                worst.append(max(sev, key=lambda s: rank[s]))
        rows.append(
            SideEffectRow(
                effect=effect.value,
                label=effect.label,
                courses=wilson_interval(len(worst), len(seen)),
                by_severity={s.value: worst.count(s.value) for s in Severity},
            )
        )
    return rows


def dreams_switch(courses: list[CourseView]) -> DreamsSwitch:
    """A course counts when a visit reports vivid dreams while the patient doses at bedtime (that
    visit, or the visit before it, records bedtime dosing); it switched when any later visit
    records morning dosing (the visit's dose time is what the patient takes at that visit)."""
    flagged = switched = stopped = 0
    for c in courses:
        visits = c.visits
        for i, v in enumerate(visits):
            has_dreams = any(e.effect == SideEffect.VIVID_DREAMS.value for e in v.side_effects)
            at_bedtime = v.dose_time == "bedtime" or (
                i > 0 and visits[i - 1].dose_time == "bedtime"
            )
            if has_dreams and at_bedtime:
                flagged += 1
                if any(w.dose_time == "morning" for w in visits[i:]):
                    switched += 1
                elif c.stop_reason == "side-effects":
                    stopped += 1
                break
    return DreamsSwitch(flagged, wilson_interval(switched, flagged), stopped)


def published_comparison(
    outcomes: list[CourseOutcome], medians: dict[str, MedianTime]
) -> list[PublishedComparison]:
    kb = get_knowledge()
    rows = []
    for cond_id in sorted({o.condition_id for o in outcomes}, key=condition_name):
        evaluable = [o for o in outcomes if o.condition_id == cond_id and o.evaluable]
        summary = kb.summarize(cond_id) if cond_id in kb.conditions else None
        rows.append(
            PublishedComparison(
                condition_id=cond_id,
                condition_name=condition_name(cond_id),
                clinic_rate=wilson_interval(sum(o.responded for o in evaluable), len(evaluable)),
                clinic_median=medians.get(cond_id, MedianTime(0, 0, None, None, None)),
                published=summary,
            )
        )
    return rows


def definitions() -> dict[str, str]:
    return {spec.short: spec.response.text for spec in MEASURES.values()}


def cohort_report(courses: list[CourseView]) -> CohortReport:
    outcomes = [evaluate(c) for c in courses]
    medians = time_to_response(outcomes)
    return CohortReport(
        courses=len(courses),
        patients=len({c.patient for c in courses}),
        visits=sum(len(c.visits) for c in courses),
        outcomes=outcomes,
        response=response_cells(outcomes),
        time_to_response=medians,
        side_effects=side_effect_rows(courses),
        dreams=dreams_switch(courses),
        published=published_comparison(outcomes, medians),
        definitions=definitions(),
    )
