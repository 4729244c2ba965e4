"""Presentation: core results (assessment, prescription, simulation, monograph) and
knowledge-base records (references, evidence) as the plain, JSON-ready dicts the pages, the REST
API, the CDS cards and the templates draw. No decisions are made here; they are made in the core
and only arranged and worded for display.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.knowledge.models import PROVENANCE, EvidenceEntry, Reference, as_data

if TYPE_CHECKING:
    from ldn_derm.assess.models import Assessment, BaselineItem
    from ldn_derm.patient import PatientProfile
    from ldn_derm.pkpd.simulate import SimulationResult
    from ldn_derm.regimen.prescription import Prescription
    from ldn_derm.web.api.schemas import SimulateIn


CANDIDACY = {
    "candidate": ("Candidate for low-dose naltrexone", "ok"),
    "candidate-with-cautions": ("Candidate for low-dose naltrexone, with cautions", "caution"),
    "contraindicated": ("Not a candidate now: a contraindication was found", "contraindicated"),
    "no-indication": ("No condition with LDN evidence was found in the record", "info"),
    "needs-review": (
        "Needs review: the safety screen is incomplete (medicines not identified)",
        "caution",
    ),
}


# ---------------------------------------------------------------- patient banner


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def patient_banner(
    patient: dict[str, Any], today: date, source: str = "From the EHR (SMART launch)"
) -> dict[str, Any]:
    """Name, birth date and age, sex and deceased status of a FHIR Patient, as display text."""
    from ldn_derm.patient.fhir import display_name

    birth = patient.get("birthDate")
    born = None
    if isinstance(birth, str):
        try:
            born = date.fromisoformat(birth[:10])
        except ValueError:
            born = None
    deceased_on: date | None = None
    deceased: str | None = None
    when = patient.get("deceasedDateTime")
    if isinstance(when, str) and when:
        deceased = f"Deceased {when[:10]}"
        try:
            deceased_on = date.fromisoformat(when[:10])
        except ValueError:
            deceased_on = None
    elif patient.get("deceasedBoolean") is True:
        deceased = "Deceased (date not recorded)"
    return _banner(
        name=display_name(patient) or "Name not recorded",
        born=born,
        age=None,
        sex=str(patient.get("gender") or ""),
        deceased=deceased,
        deceased_on=deceased_on,
        today=today,
        ident=str(patient.get("id") or ""),
        source=source,
    )


def prescribe_notes(profile: PatientProfile, assessment: Assessment) -> dict[str, Any]:
    """What the prescribe form says about the patient before anything is built: the
    contraindications that block it unless overridden, the one no override lifts (e.g. a
    recorded death), and the medicines the screen could not check."""
    from ldn_derm.regimen.assessment import context_from_assessment
    from ldn_derm.regimen.prescription import refusal

    patient = context_from_assessment(profile, assessment)
    unchecked = assessment.finding("medication-unchecked")
    return {
        "blockers": [b.summary for b in patient.blockers],
        "refused": refusal(patient.blockers, get_knowledge()),
        "unchecked_summary": unchecked.summary if unchecked else None,
        "candidacy": CANDIDACY.get(assessment.candidacy.value, ("", ""))[0],
    }


def profile_banner(profile: PatientProfile, source: str) -> dict[str, Any]:
    """The banner for a record read by the patient loader (an upload or the short form)."""
    deceased = None
    if profile.deceased is not None:
        deceased = f"Deceased {profile.deceased.isoformat()}"
    elif profile.deceased_undated:
        deceased = "Deceased (date not recorded)"
    return _banner(
        name=profile.name or ("Patient described by hand" if profile.source == "profile" else ""),
        born=profile.birth_date,
        age=profile.age,
        sex=profile.sex.value,
        deceased=deceased,
        deceased_on=profile.deceased,
        today=profile.as_of,
        ident="" if profile.source == "profile" else profile.id,
        source=source,
    )


def _banner(
    *,
    name: str,
    born: date | None,
    age: int | None,
    sex: str,
    deceased: str | None,
    deceased_on: date | None,
    today: date,
    ident: str,
    source: str,
) -> dict[str, Any]:
    end = deceased_on or today
    if born is not None:
        years = _age(born, end) if end >= born else None
        birth_text = f"born {born.isoformat()}" + (
            f" ({years} years{' at death' if deceased else ''})" if years is not None else ""
        )
    elif age is not None:
        birth_text = f"{age} years (birth date not given)"
    else:
        birth_text = "birth date not recorded"
    return {
        "name": name or "Name not recorded",
        "birth": birth_text,
        "sex": sex if sex and sex != "unknown" else "sex not recorded",
        "deceased": deceased,
        "id": ident,
        "source": source,
    }


# ---------------------------------------------------------------- assessment


def assessment_dict(a: Assessment) -> dict[str, Any]:
    """The assessment as JSON (the REST API's answer): candidacy label, evidence lines,
    comparators and the references they cite."""
    kb = get_knowledge()
    data: dict[str, Any] = as_data(a)
    label, severity = CANDIDACY.get(a.candidacy.value, (a.candidacy.value, "info"))
    facts = [f"as of {a.as_of.isoformat()}"]
    if a.patient.age is not None:
        facts.insert(0, f"{a.patient.age} years")
    if a.patient.sex and a.patient.sex != "unknown":
        facts.insert(1 if a.patient.age is not None else 0, a.patient.sex)
    worst = [f for f in a.findings if f.severity.value == "contraindicated"]
    unchecked = a.finding("medication-unchecked")
    summary = worst[0].summary if worst else unchecked.summary if unchecked else None
    data["candidacy"] = {
        "status": a.candidacy.value,
        "label": label,
        "severity": severity,
        "summary": summary,
    }
    data["patient"] = {**data["patient"], "label": f"patient {a.patient.id}", "facts": facts}
    data["evidence"] = [
        {
            "id": i.condition,
            "name": i.name,
            "summary": condition_summary(kb, i.condition)["summary"],
        }
        for i in a.indications
        if i.condition in kb.conditions
    ]
    data["comparators"] = [
        {
            "id": c.therapy,
            "name": c.name,
            "kind": c.kind,
            "drug_class": c.drug_class,
            "conditions": c.conditions,
            "baseline": as_data(c.baseline),
            "flags": as_data(c.flags),
        }
        for c in a.comparators
    ]
    cited = [
        *(r for f in a.findings for r in f.references),
        *(r for i in a.indications for r in i.references),
        *(r for c in a.comparators for f in c.flags for r in f.references),
        *(r for c in a.comparators for b in c.baseline for r in b.references),
    ]
    data["references"] = [
        reference_dict(kb.references[r]) for r in dict.fromkeys(cited) if r in kb.references
    ]
    return data


def assessment_view(
    assessment: dict[str, Any], profile: PatientProfile | None = None
) -> dict[str, Any]:
    """The assessment dict for the page: citation numbers in order of first citation, the
    medicines the screen could not identify (by name), the items not assessed."""
    numbers: dict[str, int] = {}
    cited = [
        *(r for f in assessment.get("findings", []) for r in f.get("references", [])),
        *(
            r
            for c in assessment.get("comparators", [])
            for flag in c.get("flags", [])
            for r in flag.get("references", [])
        ),
        *(
            r
            for c in assessment.get("comparators", [])
            for item in c.get("baseline", [])
            for r in item.get("references", [])
        ),
    ]
    for ref in cited:
        numbers.setdefault(ref, len(numbers) + 1)
    refs = sorted(assessment.get("references", []), key=lambda r: numbers.get(r["id"], 10**6))
    unchecked_refs: set[str] = set()
    for f in assessment.get("findings", []):
        if f.get("code") == "medication-unchecked":
            unchecked_refs |= set(f.get("triggered_by", []))
    unchecked: list[str] = []
    labels: dict[str, str] = {}
    if profile is not None:
        unchecked = [m.text for m in profile.medications if m.ref in unchecked_refs]
        facts: list[Any] = [*profile.medications, *profile.conditions, *profile.labs]
        labels = {f.ref: f.text for f in facts if f.ref.startswith("profile:")}
    not_assessed = [
        {
            "text": item.get("text", ""),
            "reason": item.get("reason", ""),
            "ref": labels.get(item.get("ref") or "", item.get("ref")),
        }
        for item in assessment.get("not_assessed", [])
    ]
    findings = [
        {
            **f,
            "triggered_by": [labels.get(t, t) for t in f.get("triggered_by", [])],
        }
        for f in assessment.get("findings", [])
    ]
    return {
        **assessment,
        "findings": findings,
        "numbers": numbers,
        "references": refs,
        "unchecked": unchecked,
        "not_assessed": not_assessed,
    }


# ---------------------------------------------------------------- prescription


def prescription_dict(rx: Prescription) -> dict[str, Any]:
    """The prescription as JSON (REST API) and for the preview page."""
    return {
        "condition": {"id": rx.condition.id, "name": rx.condition.name},
        "summary": rx.summary(),
        "text": rx.text,
        "authored_on": rx.authored_on.isoformat(),
        "warnings": list(rx.warnings),
        "override_reason": rx.override_reason,
        "overrides": {o.option.value: o.reason for o in rx.overrides},
        "evidence": {"level": rx.evidence.level.value, "text": rx.evidence.text}
        if rx.evidence
        else None,
        "schedule": rx.schedule,
        "monitoring": rx.monitoring.to_dict(),
        "medication_request": rx.medication_request,
    }


def monitoring_view(rx: Prescription) -> dict[str, Any]:
    """The monitoring plan as sections of cited items, numbered in order of first citation."""
    kb = get_knowledge()
    plan = rx.monitoring
    numbers: dict[str, int] = {}

    def items(group: Any) -> list[dict[str, Any]]:
        out = []
        for item in group:
            for r in item.refs:
                numbers.setdefault(r, len(numbers) + 1)
            out.append(item.to_dict())
        return out

    sections = [
        ("Side effects to ask about", items(plan.side_effects)),
        ("Thyroid", items(plan.thyroid)),
        ("Opioids, procedures and pain medicine", items(plan.opioids)),
        ("Follow-up visits", items(plan.follow_up)),
        ("Stopping", items([plan.stopping])),
    ]
    times = []
    for rt in plan.response_times:
        for r in rt.refs:
            numbers.setdefault(r, len(numbers) + 1)
        times.append(
            {
                "study": rt.study,
                "dose": rt.dose,
                "time_to_response": rt.time_to_response,
                "references": list(rt.refs),
            }
        )
    return {
        "sections": sections,
        "thyroid_disease_known": plan.thyroid_disease_known,
        "outcome_measures": [{"measure": m, "studies": list(s)} for m, s in plan.outcome_measures],
        "response_times": times,
        "numbers": numbers,
        "references": [reference_dict(kb.references[r]) for r in numbers if r in kb.references],
    }


# ---------------------------------------------------------------- mechanism (simulation)


def simulations(body: SimulateIn) -> list[SimulationResult]:
    """One simulation per distinct dose: that dose every 24 h at the chosen clock time."""
    from ldn_derm.pkpd.schedule import DoseSchedule, parse_clock
    from ldn_derm.pkpd.simulate import simulate as run

    clock = parse_clock(body.dose_time)
    return [
        run(
            DoseSchedule.repeated(dose, 24.0, body.days, clock=clock),
            subjects=body.subjects,
            seed=body.seed,
        )
        for dose in dict.fromkeys(body.doses_mg)
    ]


def simulation_dict(body: SimulateIn) -> dict[str, Any]:
    results = simulations(body)
    return {"dose_time": body.dose_time, "results": [r.to_json() for r in results]}


def plot_svg(results: list[SimulationResult], layout: str = "wide") -> bytes:
    import tempfile
    from pathlib import Path

    from ldn_derm.reports.occupancy_plot import plot_occupancy

    with tempfile.TemporaryDirectory(prefix="ldn-plot-") as tmp:
        path = plot_occupancy(results, Path(tmp) / "occupancy.svg", layout=layout)
        return path.read_bytes()


# the page states what was measured once, cited, above the form; these notes apply it
PAGE_NOTES = ("repeated_dosing",)


def simulation_view(body: SimulateIn) -> dict[str, Any]:
    """The plot (inline SVG) and a summary table per dose, for the page."""
    results = simulations(body)
    headers = [
        "Dose",
        "Peak occupancy",
        "Hours ≥ 50 %",
        "Hours ≥ 90 %",
        "Trough (before last dose)",
    ]
    rows = []
    for r in results:
        s = r.summary
        rows.append(
            [
                f"{r.schedule.doses_mg[0]:g} mg daily at {body.dose_time}",
                f"{s.peak:.0%} ({s.peak_t_h:.1f} h after the first dose)",
                f"{s.hours_above_50pct:.1f} h",
                f"{s.hours_above_90pct:.1f} h",
                f"{s.trough:.0%}",
            ]
        )
    # what has (not) been measured; the per-series labels are for JSON readers
    notes = list(
        dict.fromkeys(
            text[0].upper() + text[1:] + "."
            for r in results
            for key, text in r.labels().items()
            if key in PAGE_NOTES
        )
    )
    from ldn_derm.pkpd.simulate import LOWEST_MEASURED_MG

    below = [f"{r.schedule.doses_mg[0]:g} mg" for r in results if r.below_measured_range]
    if below:  # which curves lie wholly outside the measured range
        notes.insert(
            0,
            f"No occupancy has ever been measured below {LOWEST_MEASURED_MG:g} mg: the "
            f"{', '.join(below)} curves are extrapolations of the calibrated model.",
        )
    doses = ", ".join(f"{d:g} mg" for d in dict.fromkeys(body.doses_mg))
    return {
        "svg": _inline_svg(plot_svg(results)),
        # a phone gets its own layout (narrow figure, legend below): the text stays legible
        "svg_compact": _inline_svg(plot_svg(results, "compact")),
        "alt": f"Predicted μ-opioid receptor occupancy over {body.days} days for {doses} "
        f"taken daily at {body.dose_time}: median lines with 5th–95th percentile bands.",
        "caption": f"{doses} daily at {body.dose_time}, {body.days} days, "
        f"{results[0].subjects:,} simulated patients (seed {body.seed}). Shaded: night.",
        "headers": headers,
        "rows": rows,
        "notes": notes,
    }


def _inline_svg(svg: bytes) -> str:
    """The plot as a data: URL (the page's CSP allows data: images, not inline SVG styles)."""
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


# ---------------------------------------------------------------- monograph ("LDN at a glance")


def monograph_view(kb: KnowledgeBase) -> dict[str, Any]:
    """The monograph arranged by the article's six questions (knowledge/monograph.py), with
    the conditions' evidence counts and the comparison table, all cited and numbered."""
    from ldn_derm.assess.comparators import comparator_baseline, ldn_baseline
    from ldn_derm.knowledge.monograph import monograph_questions

    numbers: dict[str, int] = {}

    def cite(refs: Any) -> list[str]:
        for r in refs:
            numbers.setdefault(r, len(numbers) + 1)
        return list(refs)

    questions = []
    for q in monograph_questions(kb):
        sections = []
        for section in q.sections:
            items = []
            for item in section.items:
                items.append(
                    {
                        "text": item.text,
                        "refs": cite(item.refs),
                        "caveat": item.caveat,
                        "frequency": item.frequency,
                        "source": PROVENANCE.get(item.certainty, item.certainty),
                        "weak_source": item.certainty
                        not in {"seen-article", "seen-abstract", "seen-label"},
                    }
                )
            sections.append({"id": section.id, "title": section.title, "statements": items})
        questions.append({"id": q.id, "question": q.question, "sections": sections})
    conditions = []
    for cid in conditions_with_evidence():
        summary = condition_summary(kb, cid)
        summary["refs"] = cite(kb.summarize(cid).references)
        conditions.append(summary)
    options = []
    baselines: list[tuple[str, str, list[BaselineItem]]] = [
        (kb.ldn_option.name, "ldn", ldn_baseline(kb, [])),
        *((c.name, c.kind, comparator_baseline(c)) for c in kb.comparators.values()),
    ]
    for label, kind, baseline in baselines:
        rows: dict[str, list[dict[str, Any]]] = {}
        for b in baseline:
            rows.setdefault(b.topic, []).append(
                {"text": b.text, "refs": cite(b.references), "caveat": b.caveat}
            )
        options.append({"name": label, "kind": kind, "rows": rows})
    references = [reference_dict(kb.references[r]) for r in numbers if r in kb.references]
    return {
        "questions": questions,
        "conditions": conditions,
        "options": options,
        "numbers": numbers,
        "references": references,
        "low_dose": kb.drug.canonical_low_dose.label(),
        "standard_dose": kb.drug.standard_dose.label(),
    }


# ---------------------------------------------------------------- knowledge-base records


def reference_text(ref: Reference) -> str:
    """Vancouver-like one-line citation; the link is shown beside it, so no PMID or DOI."""
    return ref.vancouver(include_doi=False, include_pmid=False) + "."


def reference_link(ref: Reference) -> str | None:
    return ref.link()


def reference_dict(ref: Reference) -> dict[str, Any]:
    data: dict[str, Any] = as_data(ref)
    data["text"] = reference_text(ref)
    data["link"] = reference_link(ref)
    data["provenance"] = PROVENANCE.get(ref.certainty.value, ref.certainty.value)
    return data


def evidence_dict(kb: KnowledgeBase, e: EvidenceEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "condition": e.condition,
        "study": e.study,
        "design": e.design.value,
        "n": e.n,
        "dose": e.dose.label() if e.dose else None,
        "dose_low_mg_per_day": e.dose.low if e.dose else None,
        "dose_high_mg_per_day": e.dose.high if e.dose else None,
        "dose_class": kb.dose_class(e),
        "dose_note": e.dose_note,
        "duration": e.duration,
        "outcome": e.outcome.value,
        "effect": e.effect,
        "measures": list(e.measures),
        "time_to_response": e.time_to_response,
        "adverse_events": e.adverse_events,
        "add_on_to": e.add_on_to,
        "conflicts": e.conflicts,
        "certainty": e.certainty.value,
        "references": list(e.refs),
    }


def condition_summary(kb: KnowledgeBase, condition_id: str) -> dict[str, Any]:
    s = kb.summarize(condition_id)
    c = s.condition
    return {
        "id": c.id,
        "name": c.name,
        "group": c.group,
        "icd10cm": [x.code for x in c.icd10cm],
        "snomed": [x.code for x in c.snomed],
        "studies": s.studies,
        "improved": s.positive,
        "improved_low_dose": s.positive_possibly_low,
        "improved_higher_dose_only": s.positive_higher_dose,
        "mixed_or_no_benefit": s.negative_or_mixed,
        "negative_controlled_low_dose": list(s.negative_controlled_low),
        "low_dose_studies": s.low_dose_studies,
        "doses": s.doses_mg_per_day,
        "summary": s.line(),
        "note": c.note,
    }


@lru_cache(maxsize=1)
def conditions_with_evidence() -> tuple[str, ...]:
    kb = get_knowledge()
    return tuple(cid for cid in kb.conditions if kb.evidence_for(cid))


def evidence_page(kb: KnowledgeBase, condition_id: str) -> dict[str, Any]:
    entries = kb.evidence_for(condition_id)
    ref_ids = sorted({r for e in entries for r in e.refs})
    return {
        "condition": condition_summary(kb, condition_id),
        "evidence": [evidence_dict(kb, e) for e in entries],
        "references": [reference_dict(kb.references[r]) for r in ref_ids],
        "low_dose": kb.drug.canonical_low_dose.label(),
        "low_dose_high": kb.drug.canonical_low_dose.high,
    }
