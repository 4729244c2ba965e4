"""The cohort as pseudonymised CSV: one row per visit (or per course without visits).

Pseudonymised means: the random patient pseudonym instead of any name or record number; sex and
a 10-year age band at the course start instead of the birth date; days since the course started
instead of calendar dates; no free text (notes, side-effect details, stop details).
"""

from __future__ import annotations

import csv
import io

from ldn_derm.registry.views import CourseView, VisitView
from ldn_derm.registry.vocab import Measure

COLUMNS = [
    "patient",
    "clinic",
    "course",
    "condition",
    "sex",
    "age_band_at_start",
    "primary_measure",
    "regimen_start_mg",
    "regimen_target_mg",
    "stop_day",
    "stop_reason",
    "visit_day",
    "dose_mg",
    "dose_time",
    *[m.value for m in Measure],
    "investigator_global_scale",
    "adherence",
    "side_effects",
]


def _visit_cells(course: CourseView, v: VisitView | None) -> list[object]:
    if v is None:
        return [""] * (3 + len(Measure) + 3)  # visit_day..dose_time, measures, scale..effects
    effects = ";".join(f"{e.effect}:{e.severity}" for e in v.side_effects)
    return [
        v.day,
        f"{v.dose_mg:g}",
        v.dose_time,
        *["" if (x := v.value(m)) is None else f"{x:g}" for m in Measure],
        v.investigator_global_scale or "",
        v.adherence or "",
        effects,
    ]


def cohort_csv(courses: list[CourseView]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(COLUMNS)
    for c in courses:
        head: list[object] = [
            c.patient,
            c.clinic_id,
            c.id,
            c.condition_id,
            c.sex or "",
            c.age_band or "",
            c.primary_measure.value,
            c.regimen.get("start_dose_mg", ""),
            c.regimen.get("target_dose_mg", ""),
            "" if c.stop_day is None else c.stop_day,
            c.stop_reason or "",
        ]
        for v in c.visits or (None,):
            out.writerow(head + _visit_cells(c, v))
    return buf.getvalue()
