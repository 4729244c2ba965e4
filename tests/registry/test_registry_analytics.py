"""Analytics against known values: Wilson intervals (Newcombe 1998), Kaplan–Meier (Freireich
6-MP data), the response definition, cohort tables and plots."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry.analytics.cohort import (
    cohort_report,
    dreams_switch,
    response_cells,
    side_effect_rows,
)
from ldn_derm.registry.analytics.plots import dose_changes, response_png, trajectory_png
from ldn_derm.registry.analytics.response import dose_band, dose_bands, evaluate
from ldn_derm.registry.analytics.stats import km_median, km_survival, wilson_interval
from ldn_derm.registry.views import CourseView, SideEffectView, VisitView
from ldn_derm.registry.vocab import Measure

START = date(2025, 1, 1)

# Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
# methods. Stat Med 1998;17:857-872, Table I, method 3 (Wilson score, no continuity correction).
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("events", "total", "low", "high"), NEWCOMBE)
def test_wilson_matches_newcombe_1998(events: int, total: int, low: float, high: float) -> None:
    p = wilson_interval(events, total)
    assert round(p.low, 4) == low
    assert round(p.high, 4) == high


def test_wilson_edge_cases() -> None:
    assert (wilson_interval(0, 0).low, wilson_interval(0, 0).high) == (0.0, 1.0)
    assert wilson_interval(10, 10).high == 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    assert wilson_interval(8, 10).label() == "8/10 (80%; 95% CI 49–94%)"


@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    )
)
def test_wilson_interval_brackets_the_estimate(case: tuple[int, int]) -> None:
    events, total = case
    p = wilson_interval(events, total)
    assert 0.0 <= p.low <= p.estimate <= p.high <= 1.0
    wider = wilson_interval(events, total, confidence=0.99)
    assert wider.low <= p.low + 1e-12 and wider.high >= p.high - 1e-12


# Freireich et al. 1963, 6-MP arm (Gehan 1965); + = censored. The product-limit estimates are
# the textbook values (e.g. Kleinbaum & Klein, Survival Analysis, chapter 2).
SIX_MP = [6, 6, 6, -6, 7, -9, 10, -10, -11, 13, 16, -17, -19, -20, 22, 23, -25, -32, -32, -34, -35]
SIX_MP_KM = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}


def test_kaplan_meier_matches_the_6mp_textbook_values() -> None:
    durations = [float(abs(t)) for t in SIX_MP]
    observed = [t > 0 for t in SIX_MP]
    curve = dict(km_survival(durations, observed))
    for t, s in SIX_MP_KM.items():
        assert curve[float(t)] == pytest.approx(s, abs=0.0006)
    median = km_median(durations, observed)
    assert median.median == 23
    assert (median.n, median.events) == (21, 9)


def test_kaplan_meier_median_not_reached_and_empty() -> None:
    m = km_median([10, 20, 30], [True, False, False])
    assert m.median is None and "not reached" in m.label()
    assert km_median([], []).label() == "—"


# ------------------------------------------------------------------ per-course response


def v(
    day: int,
    dose: float = 4.5,
    time: str = "bedtime",
    effects: tuple[str, ...] = (),
    **measures: float,
) -> VisitView:
    return VisitView(
        id=day + 1,
        day=day,
        visit_date=START + timedelta(days=day),
        dose_mg=dose,
        dose_time=time,
        measures={Measure(k): val for k, val in measures.items()},
        investigator_global_scale="iga" if "investigator_global" in measures else None,
        adherence="all",
        side_effects=tuple(SideEffectView(e, "mild") for e in effects),
        notes=None,
        version=1,
    )


def course(
    *visits: VisitView,
    measure: Measure = Measure.ITCH_NRS,
    cid: int = 1,
    condition: str = "psoriasis",
    **kw: Any,
) -> CourseView:
    return CourseView(
        id=cid,
        patient=f"P-TEST{cid:04d}",
        clinic_id=1,
        condition_id=condition,
        condition_name=condition,
        primary_measure=measure,
        regimen={"start_dose_mg": 1.5, "target_dose_mg": 4.5, "time_of_day": "bedtime"},
        start_date=START,
        stop_date=kw.get("stop_date"),
        stop_day=None if kw.get("stop_date") is None else (kw["stop_date"] - START).days,
        stop_reason=kw.get("stop_reason"),
        stop_detail=None,
        notes=None,
        version=1,
        visits=visits,
    )


def test_response_is_a_halving_of_the_primary_measure_from_baseline() -> None:
    c = course(v(0, itch_nrs=8), v(30, itch_nrs=5), v(60, itch_nrs=4), v(90, itch_nrs=2))
    o = evaluate(c)
    assert o.evaluable and o.responded and o.response_day == 60 and o.followup_day == 90
    assert o.baseline == 8 and o.km_time == 60
    almost = evaluate(course(v(0, itch_nrs=9), v(30, itch_nrs=5)))  # 44% better
    assert almost.evaluable and not almost.responded and almost.km_time == 30


def test_pasi50_and_the_global_score_rule() -> None:
    pasi = course(v(0, pasi=12.4), v(28, pasi=6.2), measure=Measure.PASI)
    assert evaluate(pasi).responded  # exactly 50%
    iga = Measure.GLOBAL
    assert evaluate(
        course(v(0, investigator_global=3), v(40, investigator_global=1), measure=iga)
    ).responded
    assert not evaluate(
        course(v(0, investigator_global=2), v(40, investigator_global=1), measure=iga)
    ).responded  # one grade only
    low = evaluate(course(v(0, investigator_global=1), v(40, investigator_global=0), measure=iga))
    assert not low.evaluable and "too low" in (low.why_not or "")


def test_courses_that_cannot_be_judged_say_why() -> None:
    assert evaluate(course()).why_not == "no Itch NRS recorded"
    assert evaluate(course(v(0, itch_nrs=6))).why_not == "no follow-up visit yet"
    assert "too low" in (evaluate(course(v(0, itch_nrs=0), v(9, itch_nrs=0))).why_not or "")
    other = evaluate(course(v(0, itch_nrs=8), v(30, itch_nrs=1)), Measure.PASI)
    assert not other.evaluable


def test_dose_bands_come_from_the_knowledge_base_low_dose_range() -> None:
    low = get_knowledge().drug.canonical_low_dose
    bands = dose_bands()
    assert dose_band(low.low - 0.5) == bands[0]
    assert dose_band(low.low) == bands[1]
    assert dose_band(3.0) == bands[2]
    assert dose_band(low.high) == bands[2]
    assert dose_band(low.high + 0.5) == bands[3]
    c = course(v(0, dose=1.5, itch_nrs=8), v(30, dose=3, itch_nrs=3), v(60, dose=1.5, itch_nrs=2))
    assert evaluate(c).max_dose_mg == 3 and evaluate(c).dose_band == bands[2]


# ------------------------------------------------------------------ cohort


def test_response_cells_count_by_condition_and_band() -> None:
    courses = [
        course(v(0, itch_nrs=8), v(30, itch_nrs=2), cid=1),
        course(v(0, itch_nrs=8), v(30, itch_nrs=7), cid=2),
        course(v(0, dose=1.5, itch_nrs=8), v(30, dose=1.5, itch_nrs=3), cid=3),
        course(v(0, itch_nrs=8), cid=4),  # not evaluable
    ]
    cells = {(c.condition_id, c.band): c for c in response_cells([evaluate(x) for x in courses])}
    high = cells[("psoriasis", dose_bands()[2])]
    assert (high.rate.events, high.rate.total, high.not_evaluable) == (1, 2, 1)
    total = cells[("psoriasis", "all doses")]
    assert (total.rate.events, total.rate.total, total.not_evaluable) == (2, 3, 1)


def test_vivid_dreams_then_morning_dosing_is_counted() -> None:
    switched = course(
        v(0, itch_nrs=5), v(28, effects=("vivid-dreams",)), v(56, time="morning"), cid=1
    )
    reported_after_switch = course(v(0), v(28, time="morning", effects=("vivid-dreams",)), cid=2)
    stayed = course(v(0, effects=("vivid-dreams",)), v(28), cid=3)
    stopped = course(v(0, effects=("vivid-dreams",)), cid=4, stop_reason="side-effects")
    morning_only = course(v(0, time="morning", effects=("vivid-dreams",)), cid=5)
    d = dreams_switch([switched, reported_after_switch, stayed, stopped, morning_only])
    assert d.with_dreams_at_bedtime == 4
    assert d.switched_to_morning.events == 2 and d.stopped_for_side_effects == 1


def test_side_effect_frequencies_use_courses_and_worst_severity() -> None:
    a = course(v(0, effects=("headache",)), v(10, effects=("headache",)), cid=1)
    b = course(v(0), cid=2)
    rows = {r.effect: r for r in side_effect_rows([a, b, course(cid=3)])}
    assert (rows["headache"].courses.events, rows["headache"].courses.total) == (1, 2)
    assert rows["headache"].by_severity == {"mild": 1, "moderate": 0, "severe": 0}


def test_cohort_report_compares_with_the_published_summary() -> None:
    kb = get_knowledge()
    courses = [course(v(0, pasi=10), v(60, pasi=4), measure=Measure.PASI, cid=1)]
    report = cohort_report(courses)
    (row,) = report.published
    assert row.published is not None
    assert row.published.studies == kb.summarize("psoriasis").studies
    assert row.published_line() == kb.summarize("psoriasis").line()
    assert report.time_to_response["psoriasis"].median == 60
    assert "PASI" in report.definitions


# ------------------------------------------------------------------ plots


def test_trajectory_plot_marks_dose_changes_and_is_a_png() -> None:
    c = course(
        v(0, dose=1.5, itch_nrs=8, pasi=10),
        v(28, dose=3, itch_nrs=6),
        v(56, dose=3, time="morning", itch_nrs=3),
    )
    assert dose_changes(c) == [(28, "→ 3 mg"), (56, "→ morning")]
    png = trajectory_png(c)
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert trajectory_png(course()).startswith(b"\x89PNG")  # no visits yet


def test_response_plot_is_a_png_even_when_empty() -> None:
    cells = response_cells([evaluate(course(v(0, itch_nrs=8), v(30, itch_nrs=2)))])
    assert response_png(cells).startswith(b"\x89PNG")
    assert response_png([]).startswith(b"\x89PNG")
