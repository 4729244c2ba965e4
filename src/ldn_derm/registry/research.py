"""The researcher's view of the registry: an explicit allow-list of fields.

Everything a researcher (or any reader without identified access) receives — the API's patient
and course records, the course and patient pages, the FHIR export and the cohort CSV — is built
from these lists and nothing else: the registry id (pseudonym), the clinic's number, sex, a
10-year age band at the course start, the condition, the primary measure, the planned and
recorded doses (with the time of day), the measures, coded side effects and adherence, a coded
stop reason, and *days since the course start* in place of every calendar date.

Never in this view: names, birth dates, source record ids, calendar dates, or free text (visit
notes, course notes, side-effect details, stop details, the regimen's formulation, source and
note). A field added to a record is therefore hidden from researchers until it is added here on
purpose.
"""

from __future__ import annotations

from typing import Any

# Keys of each JSON record a researcher may receive.
PATIENT_FIELDS = frozenset({"id", "clinic_id", "sex", "courses", "pseudonymised"})
COURSE_FIELDS = frozenset(
    {
        "id",
        "patient",
        "clinic_id",
        "sex",
        "age_band",
        "condition_id",
        "condition_name",
        "primary_measure",
        "regimen",
        "stop_day",
        "stop_reason",
        "visits",
        "outcome",
        "pseudonymised",
    }
)
VISIT_FIELDS = frozenset(
    {
        "id",
        "day",
        "dose_mg",
        "dose_time",
        "measures",
        "investigator_global_scale",
        "adherence",
        "side_effects",
    }
)
SIDE_EFFECT_FIELDS = frozenset({"effect", "severity"})
REGIMEN_FIELDS = frozenset({"start_dose_mg", "target_dose_mg", "time_of_day", "steps"})
REGIMEN_STEP_FIELDS = frozenset({"day", "dose_mg", "time_of_day"})
# The course outcome (response status by the registry's definition): numbers, days and codes.
OUTCOME_FIELDS = frozenset(
    {
        "measure",
        "definition",
        "evaluable",
        "why_not_evaluable",
        "baseline",
        "responded",
        "response_day",
        "followup_day",
        "max_dose_mg",
        "dose_band",
        "note",
    }
)
# Columns of the cohort CSV (registry/export.py checks its columns against this list).
CSV_COLUMNS = frozenset(
    {
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
        "itch_nrs",
        "pasi",
        "bsa_percent",
        "dlqi",
        "lppai",
        "investigator_global",
        "investigator_global_scale",
        "adherence",
        "side_effects",
    }
)
# Every key that may appear anywhere in a researcher's JSON (the measures' own keys included).
ALL_JSON_FIELDS = (
    PATIENT_FIELDS
    | COURSE_FIELDS
    | VISIT_FIELDS
    | SIDE_EFFECT_FIELDS
    | REGIMEN_FIELDS
    | REGIMEN_STEP_FIELDS
    | OUTCOME_FIELDS
)


def only(record: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """`record` reduced to the allowed keys (a key not listed never leaves)."""
    return {k: v for k, v in record.items() if k in allowed}


def regimen(summary: dict[str, Any]) -> dict[str, Any]:
    """The planned regimen without its free text (formulation, source, note)."""
    out = only(summary, REGIMEN_FIELDS)
    steps = out.get("steps")
    if isinstance(steps, list):
        out["steps"] = [only(s, REGIMEN_STEP_FIELDS) for s in steps if isinstance(s, dict)]
    return out
