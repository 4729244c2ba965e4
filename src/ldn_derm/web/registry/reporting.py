"""Shapes the analytics for JSON and pages, and serves plots."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from ldn_derm.registry.analytics.cohort import CohortReport
from ldn_derm.registry.analytics.plots import trajectory_png
from ldn_derm.registry.analytics.response import CourseOutcome
from ldn_derm.registry.analytics.stats import MedianTime, Proportion
from ldn_derm.registry.service import Registry
from ldn_derm.registry.vocab import MEASURES

DEFINITION_NOTE = (
    "Response is the registry's operational definition, chosen to count responders the same way "
    "for every course; it is not a clinical standard or a treatment target."
)


def proportion_json(p: Proportion) -> dict[str, Any]:
    return {
        "events": p.events,
        "total": p.total,
        "rate": None if not p.total else round(p.estimate, 4),
        "wilson95": [round(p.low, 4), round(p.high, 4)],
    }


def median_json(m: MedianTime) -> dict[str, Any]:
    return {
        "courses": m.n,
        "responded": m.events,
        "median_days": m.median,
        "ci95_days": [m.low, m.high],
    }


def outcome_json(o: CourseOutcome) -> dict[str, Any]:
    return {
        "measure": o.measure.value,
        "definition": MEASURES[o.measure].response.text,
        "evaluable": o.evaluable,
        "why_not_evaluable": o.why_not,
        "baseline": o.baseline,
        "responded": o.responded,
        "response_day": o.response_day,
        "followup_day": o.followup_day,
        "max_dose_mg": o.max_dose_mg,
        "dose_band": o.dose_band,
        "note": DEFINITION_NOTE,
    }


def report_json(r: CohortReport) -> dict[str, Any]:
    return {
        "courses": r.courses,
        "patients": r.patients,
        "visits": r.visits,
        "response_definition_note": DEFINITION_NOTE,
        "response_definitions": r.definitions,
        "response_by_condition_and_dose": [
            {
                "condition": c.condition_id,
                "condition_name": c.condition_name,
                "dose_band": c.band,
                "measures": list(c.measures),
                "not_evaluable": c.not_evaluable,
                **proportion_json(c.rate),
            }
            for c in r.response
        ],
        "time_to_response": {k: median_json(v) for k, v in r.time_to_response.items()},
        "side_effects": [
            {
                "effect": s.effect,
                "label": s.label,
                "by_severity": s.by_severity,
                **proportion_json(s.courses),
            }
            for s in r.side_effects
        ],
        "vivid_dreams_to_morning": {
            "courses_with_dreams_on_bedtime_dosing": r.dreams.with_dreams_at_bedtime,
            "switched_to_morning": proportion_json(r.dreams.switched_to_morning),
            "stopped_for_side_effects_instead": r.dreams.stopped_for_side_effects,
        },
        "published_comparison": [
            {
                "condition": p.condition_id,
                "clinic_response": proportion_json(p.clinic_rate),
                "clinic_time_to_response": median_json(p.clinic_median),
                "published_studies": p.published.studies if p.published else 0,
                "published_improved": p.published.positive if p.published else 0,
                "published_doses": p.published.doses_mg_per_day if p.published else [],
                "published_references": p.published.references if p.published else [],
                "summary": p.published_line(),
            }
            for p in r.published
        ],
    }


def plot_response(registry: Registry, course_id: int) -> Response:
    course = registry.get_course(course_id)
    return Response(trajectory_png(course), media_type="image/png")


def cohort_csv_response(registry: Registry) -> Response:
    """The cohort as pseudonymised CSV, one row per visit (audited as a cohort export)."""
    from ldn_derm.registry.export import cohort_csv

    courses = registry.cohort(action="cohort.export_csv")
    return Response(
        cohort_csv(courses),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ldn-registry-cohort.csv"'},
    )
