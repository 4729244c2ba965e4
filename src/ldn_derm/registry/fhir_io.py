"""FHIR in and out of the registry.

In: the Patient of a FHIR R4 bundle (id, name, birth date, gender), read straight from the JSON
with orjson; only what the registry stores.

Out: a treatment course as a FHIR R4 `collection` Bundle, validated with the fhir.resources R4B
models: a pseudonymous Patient, one MedicationStatement (naltrexone, RxNorm 7243, with one
Dosage per dose period actually recorded) and one Observation per recorded outcome value and
per side effect. A pseudonymised course (a researcher's) is exported without any calendar date:
the periods and visit days are extensions holding days since the course start, and the bundle
has no timestamp.

Codes. Naltrexone's RxNorm ingredient code 7243 is verified (STANDARDS.md §4.1); the condition's
ICD-10-CM codes come from the knowledge base (only those marked verified). We searched for LOINC
codes for the itch numeric rating scale, PASI, affected BSA %, DLQI, LPPAI and the IGA/PGA and
found none we could confirm (the LOINC 0–10 rating seen in FHIR examples, 72514-3, is for pain;
8277-6 is the body's surface area in m², not the share affected). So every outcome uses the
registry's local code system OUTCOME_SYSTEM, and side effects use SIDE_EFFECT_SYSTEM. Map them
to LOINC in a ConceptMap once codes are verified.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson

from ldn_derm.errors import PatientDataError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry.schemas import PatientIn, parse
from ldn_derm.registry.views import CourseView, VisitView
from ldn_derm.registry.vocab import (
    MEASURES,
    GlobalScale,
    Measure,
    Severity,
    Sex,
    SideEffect,
    StopReason,
)

OUTCOME_SYSTEM = "https://ldn-derm.example/fhir/CodeSystem/outcome-measures"
SIDE_EFFECT_SYSTEM = "https://ldn-derm.example/fhir/CodeSystem/side-effects"
# Pseudonymised exports (researchers) carry days since the course start instead of dates.
COURSE_DAY_EXTENSION = "https://ldn-derm.example/fhir/StructureDefinition/days-since-course-start"
COURSE_DAYS_EXTENSION = "https://ldn-derm.example/fhir/StructureDefinition/course-day-range"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
NALTREXONE_RXCUI = "7243"
IMPORT_SOURCE = "fhir-bundle"

OUTCOME_CODES: dict[Measure, str] = {
    Measure.ITCH_NRS: "itch-nrs",
    Measure.PASI: "pasi",
    Measure.BSA: "bsa-affected-percent",
    Measure.DLQI: "dlqi",
    Measure.LPPAI: "lppai",
    Measure.GLOBAL: "investigator-global-0-4",
}
PATIENT_REPORTED = {Measure.ITCH_NRS, Measure.DLQI}
SIDE_EFFECT_CODE = "side-effect"

# ------------------------------------------------------------------ import


def patient_from_bundle(data: bytes | str | dict[str, Any]) -> PatientIn:
    """The first Patient in a FHIR bundle (or a bare Patient resource), as registry input."""
    if isinstance(data, bytes | str):
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise PatientDataError(f"the file is not valid JSON ({exc})") from None
    else:
        doc = data
    if not isinstance(doc, dict):
        raise PatientDataError("expected a FHIR Bundle or Patient (a JSON object)")
    patient = _find_patient(doc)
    pid = patient.get("id")
    if pid is not None and not isinstance(pid, str):
        raise PatientDataError("the Patient's id should be text")
    name = _pick_name(patient.get("name"))
    given_list = name.get("given", [])
    if not isinstance(given_list, list) or not all(isinstance(g, str) for g in given_list):
        raise PatientDataError("the Patient's given names should be a list of text")
    given = " ".join(g for g in given_list if g).strip()
    family_value = name.get("family")
    text_value = name.get("text")
    for label, value in (("family name", family_value), ("name text", text_value)):
        if value is not None and not isinstance(value, str):
            raise PatientDataError(f"the Patient's {label} should be text")
    family = (family_value or "").strip()
    if not family and not given:
        given, _, family = (text_value or "").strip().rpartition(" ")
    if not family:
        raise PatientDataError("the Patient has no family name")
    birth = patient.get("birthDate")
    if not isinstance(birth, str):
        raise PatientDataError("the Patient has no birthDate")
    try:
        birth_date = date.fromisoformat(birth[:10]) if len(birth) >= 10 else None
    except ValueError:
        birth_date = None
    if birth_date is None:
        raise PatientDataError(f"the Patient's birthDate '{birth[:40]}' is not a full date")
    gender = patient.get("gender")
    sex = (
        Sex(gender) if isinstance(gender, str) and gender in {s.value for s in Sex} else Sex.UNKNOWN
    )
    # the registry's own checks (lengths, dates, NUL...) as for a typed-in patient: a 422
    # naming the field, never an internal error
    return parse(
        PatientIn,
        {
            "given_name": given or "(none)",
            "family_name": family,
            "birth_date": birth_date,
            "sex": sex,
            "source_system": IMPORT_SOURCE,
            "source_id": pid or None,
        },
        "imported Patient",
    )


def _find_patient(doc: dict[str, Any]) -> dict[str, Any]:
    if doc.get("resourceType") == "Patient":
        return doc
    if doc.get("resourceType") != "Bundle":
        raise PatientDataError(
            f"expected a FHIR Bundle or Patient, got {doc.get('resourceType')!r}"
        )
    for entry in doc.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            return resource
    raise PatientDataError("the bundle has no Patient resource")


def _pick_name(names: object) -> dict[str, Any]:
    if not isinstance(names, list) or not names:
        raise PatientDataError("the Patient has no name")
    dicts = [n for n in names if isinstance(n, dict)]
    for n in dicts:
        if n.get("use") == "official":
            return n
    for n in dicts:
        if n.get("use") not in ("old", "nickname", "anonymous"):
            return n
    return dicts[0] if dicts else {}


# ------------------------------------------------------------------ export


def _dose_periods(visits: tuple[VisitView, ...]) -> list[tuple[VisitView, VisitView | None]]:
    """Runs of visits with the same dose and time of day: (first visit, next run's first)."""
    runs: list[VisitView] = []
    for v in visits:
        if not runs or (v.dose_mg, v.dose_time) != (runs[-1].dose_mg, runs[-1].dose_time):
            runs.append(v)
    return [(run, runs[i + 1] if i + 1 < len(runs) else None) for i, run in enumerate(runs)]


def _days(low: int, high: int | None) -> dict[str, Any]:
    """The pseudonymised stand-in for a period: days since the course start (UCUM `d`)."""
    rng: dict[str, Any] = {"low": {"value": low, "unit": "d", "system": UCUM, "code": "d"}}
    if high is not None:
        rng["high"] = {"value": high, "unit": "d", "system": UCUM, "code": "d"}
    return {"url": COURSE_DAYS_EXTENSION, "valueRange": rng}


def _dosage(seq: int, visit: VisitView, until: VisitView | None) -> dict[str, Any]:
    when = "HS" if visit.dose_time == "bedtime" else "MORN"
    repeat: dict[str, Any] = {"frequency": 1, "period": 1, "periodUnit": "d", "when": [when]}
    dosage: dict[str, Any] = {"sequence": seq}
    if visit.visit_date is not None:
        end = until.visit_date if until else None
        span = f"from {visit.visit_date.isoformat()}" + (f" until {end.isoformat()}" if end else "")
        repeat["boundsPeriod"] = {"start": visit.visit_date.isoformat()} | (
            {"end": end.isoformat()} if end else {}
        )
    else:  # pseudonymised: days since the course start, no calendar dates
        span = f"from day {visit.day}" + (f" until day {until.day}" if until else "")
        dosage["extension"] = [_days(visit.day, until.day if until else None)]
    dosage |= {
        "text": f"{visit.dose_mg:g} mg by mouth once daily at {visit.dose_time}, {span}",
        "timing": {"repeat": repeat},
        "route": {"text": "oral"},
    }
    if visit.dose_mg > 0:
        dosage["doseAndRate"] = [
            {"doseQuantity": {"value": visit.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ]
    return dosage


def _status(course: CourseView) -> str:
    if not course.stopped:
        return "active"
    return "completed" if course.stop_reason == StopReason.GOAL_REACHED.value else "stopped"


def course_to_fhir(course: CourseView, now: datetime | None = None) -> dict[str, Any]:
    """The course as a validated FHIR R4 collection Bundle (JSON-ready dict)."""
    from fhir.resources.R4B.bundle import Bundle

    kb = get_knowledge()
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    patient_ref = {"reference": f"Patient/{course.patient}"}
    ms_id = f"course-{course.id}"
    cond = kb.conditions.get(course.condition_id)
    reason_codings = [
        {"system": ICD10CM, "code": c.code, "display": c.display or course.condition_name}
        for c in (cond.icd10cm if cond else [])
        if c.verified
    ]
    regimen = course.regimen
    statement: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": ms_id,
        "status": _status(course),
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": NALTREXONE_RXCUI, "display": "naltrexone"}],
            "text": "naltrexone, low dose",
        },
        "subject": patient_ref,
        "reasonCode": [{"coding": reason_codings, "text": course.condition_name}],
        "note": [
            {
                "text": "Planned regimen: "
                + f"{regimen.get('start_dose_mg')} → {regimen.get('target_dose_mg')} mg/day "
                + f"at {regimen.get('time_of_day')}"
            }
        ],
    }
    if course.start_date is not None:
        statement["effectivePeriod"] = {"start": course.start_date.isoformat()} | (
            {"end": course.stop_date.isoformat()} if course.stop_date else {}
        )
        statement["dateAsserted"] = stamp
    else:  # pseudonymised: the course runs from day 0 to its stop day
        statement["extension"] = [_days(0, course.stop_day)]
    if course.stop_reason:
        statement["statusReason"] = [{"text": StopReason(course.stop_reason).label}]
    dosages = [_dosage(i, v, until) for i, (v, until) in enumerate(_dose_periods(course.visits), 1)]
    if dosages:
        statement["dosage"] = dosages

    entries: list[dict[str, Any]] = [
        {"resource": {"resourceType": "Patient", "id": course.patient}},
        {"resource": statement},
    ]
    for visit in course.visits:
        entries.extend({"resource": obs} for obs in _visit_observations(visit, ms_id, patient_ref))
    document: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    if not course.pseudonymised:  # a researcher's export carries no calendar date at all
        document["timestamp"] = stamp
    bundle = Bundle.model_validate(document)
    result: dict[str, Any] = orjson.loads(bundle.model_dump_json(exclude_none=True))
    return result


def _visit_observations(
    visit: VisitView, ms_id: str, patient_ref: dict[str, str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    common: dict[str, Any] = {
        "status": "final",
        "subject": patient_ref,
        "partOf": [{"reference": f"MedicationStatement/{ms_id}"}],
    }
    if visit.visit_date is not None:
        common["effectiveDateTime"] = visit.visit_date.isoformat()
    else:  # pseudonymised: the visit's day since the course start
        common["extension"] = [{"url": COURSE_DAY_EXTENSION, "valueInteger": visit.day}]
    for measure, value in visit.measures.items():
        spec = MEASURES[measure]
        category = "survey" if measure in PATIENT_REPORTED else "exam"
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"visit-{visit.id}-{OUTCOME_CODES[measure]}",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
            "code": {
                "coding": [
                    {
                        "system": OUTCOME_SYSTEM,
                        "code": OUTCOME_CODES[measure],
                        "display": spec.label,
                    }
                ],
                "text": spec.label,
            },
            "valueQuantity": {
                "value": int(value) if spec.integer else value,
                "unit": spec.unit,
                "system": UCUM,
                "code": spec.unit,
            },
            **common,
        }
        if measure is Measure.GLOBAL and visit.investigator_global_scale:
            obs["method"] = {"text": GlobalScale(visit.investigator_global_scale).label}
        out.append(obs)
    for eff in visit.side_effects:
        out.append(
            {
                "resourceType": "Observation",
                "id": f"visit-{visit.id}-se-{eff.effect}",
                "code": {
                    "coding": [
                        {
                            "system": OUTCOME_SYSTEM,
                            "code": SIDE_EFFECT_CODE,
                            "display": "Side effect",
                        }
                    ]
                },
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": SIDE_EFFECT_SYSTEM,
                            "code": eff.effect,
                            "display": SideEffect(eff.effect).label,
                        }
                    ]
                },
                "component": [
                    {
                        "code": {"text": "severity"},
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": SIDE_EFFECT_SYSTEM,
                                    "code": Severity(eff.severity).value,
                                }
                            ]
                        },
                    }
                ],
                **common,
            }
        )
    return out
