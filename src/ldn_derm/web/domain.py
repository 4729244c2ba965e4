"""The web layer's only door into the core (patient, assess, regimen, pkpd, reports).

Every page, API route and CDS service calls the core through these functions, so the shape of
the core is adapted in one place. Results are plain JSON-ready dicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ldn_derm.errors import InputError, LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.web import views

if TYPE_CHECKING:
    from datetime import date

    from ldn_derm.assess.models import Assessment, Finding
    from ldn_derm.patient.manual import ProfileDocument
    from ldn_derm.pkpd.simulate import SimulationResult
    from ldn_derm.regimen.prescription import Prescription
    from ldn_derm.web.api.schemas import PrescribeIn, SimulateIn


class NotAvailableError(LdnError):
    """A core feature this server cannot provide (its package is missing or incomplete)."""


def _missing(what: str, exc: Exception) -> NotAvailableError:
    return NotAvailableError(f"{what} is not available on this server yet ({exc}).")


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


def assess(
    bundle: dict[str, Any] | None, profile: ProfileDocument | None, as_of: date | None
) -> dict[str, Any]:
    """Assess a FHIR bundle or a manual profile: JSON-ready assessment with references."""
    from datetime import date

    from ldn_derm.assess import assess as run
    from ldn_derm.patient import profile_from_bundle, profile_from_document

    day = as_of or date.today()
    if bundle is not None:
        patient = profile_from_bundle(bundle, as_of=day)
    elif profile is not None:
        patient = profile_from_document(profile, as_of=day)
    else:
        raise InputError("give a FHIR bundle or a patient profile")
    return assessment_dict(run(patient))


def assessment_dict(a: Assessment) -> dict[str, Any]:
    kb = get_knowledge()
    data = a.model_dump(mode="json")
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
            "summary": views.condition_summary(kb, i.condition)["summary"],
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
            "baseline": [b.model_dump(mode="json") for b in c.baseline],
            "flags": [f.model_dump(mode="json") for f in c.flags],
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
        views.reference_dict(kb.references[r]) for r in dict.fromkeys(cited) if r in kb.references
    ]
    return data


def build_prescription(body: PrescribeIn) -> Prescription:
    from ldn_derm.regimen.prescription import build_prescription as build
    from ldn_derm.regimen.schedule import build_regimen

    regimen = build_regimen(
        target_mg=body.target_mg,
        start_mg=body.start_mg,
        step_mg=body.step_mg,
        interval_days=body.interval_days,
        days=body.days,
        time=body.time,
        preset=body.preset,
        allow_above_low_dose="above-low-dose" in body.overrides,
    )
    patient = None
    if body.bundle is not None:
        from datetime import date

        from ldn_derm.assess import assess as run
        from ldn_derm.patient import profile_from_bundle
        from ldn_derm.regimen.assessment import context_from_assessment

        profile = profile_from_bundle(body.bundle, as_of=date.today())
        patient = context_from_assessment(profile, run(profile))
    concentration = (
        str(body.concentration_mg_per_ml) if body.concentration_mg_per_ml is not None else None
    )
    return build(
        body.condition,
        regimen,
        body.form,
        salt=body.salt,
        concentration=concentration if body.form == "liquid" else None,
        patient=patient,
        override_reason=body.override_reason,
        overrides={str(k): v for k, v in body.overrides.items()},
    )


def prescribe(body: PrescribeIn) -> dict[str, Any]:
    rx = build_prescription(body)
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


def handout_pdf(body: PrescribeIn) -> bytes:
    from ldn_derm.reports.handout import render_handout_pdf

    return render_handout_pdf(build_prescription(body), paper=body.paper)


def handout_context(body: PrescribeIn) -> dict[str, Any]:
    from ldn_derm.reports.handout import handout_context as context

    return context(build_prescription(body), paper=body.paper)


def _simulations(body: SimulateIn) -> list[SimulationResult]:
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


def simulate(body: SimulateIn) -> dict[str, Any]:
    results = _simulations(body)
    return {"dose_time": body.dose_time, "results": [r.to_json() for r in results]}


def _plot_svg(results: list[SimulationResult]) -> bytes:
    import tempfile
    from pathlib import Path

    from ldn_derm.reports.occupancy_plot import plot_occupancy

    with tempfile.TemporaryDirectory(prefix="ldn-plot-") as tmp:
        path = plot_occupancy(results, Path(tmp) / "occupancy.svg")
        return path.read_bytes()


def simulate_plot_svg(body: SimulateIn) -> bytes:
    return _plot_svg(_simulations(body))


# ---------------------------------------------------------------- CDS Hooks
# The decisions live in the core (assess.evidence, regimen.orders); these functions only turn
# its findings into the dicts cards.render_card draws.

TOPICS = {
    "ldn-dose-outside-low-dose-range": "LDN dose range",
    "ldn-dose-unreadable": "LDN dose not read",
    "ldn-titration-and-monitoring": "LDN titration and monitoring",
}


def _cds_assessment(records: list[dict[str, Any]]) -> Assessment:
    from datetime import date

    from ldn_derm.assess import assess as run
    from ldn_derm.patient import profile_from_resources

    profile = profile_from_resources(records, as_of=date.today(), source="cds-prefetch")
    return run(profile, comparators=False)  # no card shows the comparator table


def cds_patient_view_findings(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One info finding per active condition with naltrexone studies (assess.evidence)."""
    from ldn_derm.assess.evidence import evidence_findings

    assessment = _cds_assessment(records)
    out = []
    lines = evidence_findings(assessment)
    unchecked = assessment.finding("medication-unchecked")
    if lines and unchecked is not None:  # evidence is never shown as if the screen were complete
        out.append({**_finding_dict(unchecked), "topic": "LDN safety screen incomplete"})
    for line in lines:
        out.append(
            {
                **_finding_dict(line.finding),
                "topic": f"LDN evidence: {line.name}",
                "link_path": f"/evidence/{line.condition}",
                "condition": line.condition,
                "link_label": f"Naltrexone evidence for {line.name} (ldn-derm)",
            }
        )
    return out


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity.value,
        "summary": f.summary,
        "detail": f.detail,
        "references": list(f.references),
    }


def cds_order_findings(
    records: list[dict[str, Any]],
    draft_orders: Any,
    patient_id: str | None = None,
    unavailable: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Findings for the LDN-type orders of a draft Bundle (regimen.orders.review_draft_orders):
    contraindications (critical), medicine cautions and dose problems (warning, the dose ones
    with a suggestion that replaces the order) and the titration and monitoring plan (info)."""
    from datetime import date

    from ldn_derm.regimen.orders import review_draft_orders

    advice = review_draft_orders(
        draft_orders, records, as_of=date.today(), patient_id=patient_id, unavailable=unavailable
    )
    out: list[dict[str, Any]] = []
    for a in advice:
        f = a.finding
        data = _finding_dict(f)
        if f.severity.value == "contraindicated":
            data["topic"] = "LDN contraindication"
        else:
            data["topic"] = TOPICS.get(f.code, "LDN safety")
        if f.triggered_by and f.code not in TOPICS:
            data["detail"] += f"\n\nTriggered by: {'; '.join(f.triggered_by)}."
        if a.suggestion is not None:
            data["suggestion"] = {
                "label": a.suggestion.label,
                "description": a.suggestion.description,
                "resource": a.suggestion.resource,
            }
        if f.code == "ldn-titration-and-monitoring" and a.condition:
            data["link_path"] = f"/prescribe?condition={a.condition}"
            data["condition"] = a.condition
            data["link_label"] = "Build the prescription and handout in ldn-derm"
        out.append(data)
    return out


# ---------------------------------------------------------------- page view models


def assessment_view(assessment: dict[str, Any]) -> dict[str, Any]:
    """The assessment dict plus citation numbers in order of first citation."""
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
    return {**assessment, "numbers": numbers, "references": refs}


# the page states what was measured once, cited, above the form; these notes apply it
PAGE_NOTES = ("repeated_dosing",)


def simulation_view(body: SimulateIn) -> dict[str, Any]:
    """The plot (inline SVG as base64) and a summary table per dose, for the page."""
    import base64

    results = _simulations(body)
    svg = _plot_svg(results)
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
        "svg_base64": base64.b64encode(svg).decode(),
        "alt": f"Predicted μ-opioid receptor occupancy over {body.days} days for {doses} "
        f"taken daily at {body.dose_time}: median lines with 5th–95th percentile bands.",
        "caption": f"{doses} daily at {body.dose_time}, {body.days} days, "
        f"{results[0].subjects:,} simulated patients (seed {body.seed}). Shaded: night.",
        "headers": headers,
        "rows": rows,
        "notes": notes,
    }
