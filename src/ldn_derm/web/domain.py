"""The web layer's only door into the core (patient, assess, regimen, pkpd, reports).

Every page, API route and CDS service calls the core through these functions, so the shape of
the core is adapted in one place. Results are plain JSON-ready dicts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import InputError, LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.web import views

if TYPE_CHECKING:
    from datetime import date

    from ldn_derm.assess.models import Assessment
    from ldn_derm.patient.manual import ProfileDocument
    from ldn_derm.pkpd.simulate import SimulationResult
    from ldn_derm.regimen.prescription import Prescription
    from ldn_derm.regimen.schedule import Regimen
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
            "drug_class": kb.comparators[c.therapy].drug_class
            if c.therapy in kb.comparators
            else "",
            "flags": [f.model_dump(mode="json") for f in c.flags],
        }
        for c in a.comparators
    ]
    cited = [
        *(r for f in a.findings for r in f.references),
        *(r for i in a.indications for r in i.references),
        *(r for c in a.comparators for f in c.flags for r in f.references),
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

MG_FACTORS = {"mg": 1.0, "milligram": 1.0, "milligrams": 1.0, "mcg": 0.001, "ug": 0.001,
              "µg": 0.001, "microgram": 0.001, "g": 1000.0, "gram": 1000.0}  # fmt: skip
PER_DAY = {"d": 1.0, "h": 24.0, "min": 1440.0, "wk": 1 / 7, "mo": 1 / 30, "a": 1 / 365}


def _cds_assessment(records: list[dict[str, Any]]) -> Assessment:
    from datetime import date

    from ldn_derm.assess import assess as run
    from ldn_derm.patient import profile_from_resources

    profile = profile_from_resources(records, as_of=date.today(), source="cds-prefetch")
    return run(profile, comparators=False)  # no card shows the comparator table


def cds_patient_view_findings(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings for patient-view: one info finding per active condition with naltrexone studies.
    Studies at a low (or unreported) dose are LDN evidence; a condition studied only at higher
    doses gets a card that says so, rather than passing 50 mg trials off as LDN evidence."""
    kb = get_knowledge()
    assessment = _cds_assessment(records)
    out = []
    for ind in assessment.indications:
        entries = kb.evidence_for(ind.condition)
        if not entries:
            continue  # nothing published to show
        ldn = [e for e in entries if kb.possibly_low(e)]  # low, straddling or unreported dose
        higher = [e for e in entries if e not in ldn]
        improved_ldn = ind.evidence.positive_possibly_low
        if improved_ldn:
            summary = (
                f"Low-dose naltrexone has published evidence in {ind.name}: {_studies(len(ldn))}"
            )
        elif ldn:
            summary = f"{ind.name}: no study of low-dose naltrexone reported improvement"
        else:
            summary = f"{ind.name}: naltrexone studied only above the low-dose range"
        if ldn:
            detail = (
                f"The knowledge base has {_studies(len(ldn))} at a dose that may be low "
                f"(within or starting in the low-dose range, or not reported): "
                f"{_evidence_line(ldn)}."
            )
        else:
            detail = f"No study of low-dose naltrexone in {ind.name} was found."
        if higher:
            detail += (
                f" {_studies(len(higher)).capitalize()} used doses above the low-dose range: "
                f"{_evidence_line(higher)}."
            )
            if all(kb.dose_class(e) == "standard" for e in higher):
                detail += (
                    f" {kb.drug.standard_dose.label()} is the standard dose for alcohol and "
                    "opioid use disorder, not LDN."
                )
        detail = (
            f"**{ind.name}** is on the problem list ({'; '.join(ind.matched_from)}). {detail} "
            f"Low dose means {kb.drug.canonical_low_dose.label()} (off label)."
        )
        refs = {r for e in entries for r in e.refs}
        refs |= {*kb.drug.low_dose_ranges[0].refs, *kb.drug.statement("off-label-use").refs}
        if higher:
            refs |= set(kb.drug.standard_dose_refs)
        out.append(
            {
                "code": f"ldn-evidence-{ind.condition}",
                "topic": f"LDN evidence: {ind.name}",
                "severity": "info",
                "summary": summary,
                "detail": detail,
                "references": sorted(refs),
                "link_path": f"/evidence/{ind.condition}",
                "link_label": f"Naltrexone evidence for {ind.name} (ldn-derm)",
            }
        )
    return out


def _studies(n: int) -> str:
    return f"{n} stud{'y' if n == 1 else 'ies'}"


def _doses(entries: list[Any]) -> str:
    """'3–4.5 mg/day, 6.25 mg/day; not reported in 2' (the doses the entries state)."""
    from ldn_derm.knowledge.base import dose_labels

    stated = ", ".join(dose_labels(entries))
    unreported = sum(e.dose is None for e in entries)
    missing = f"not reported in {unreported}" if unreported else ""
    return "; ".join(part for part in (stated, missing) if part)


DESIGN_NAMES = {  # singular, plural
    "rct": ("randomised trial", "randomised trials"),
    "crossover-rct": ("crossover randomised trial", "crossover randomised trials"),
    "case-series": ("case series", "case series"),
    "retrospective-series": ("retrospective series", "retrospective series"),
}


def _evidence_line(entries: list[Any]) -> str:
    """'2 improved, 1 mixed, no benefit or worse (2 case reports, 1 case series); doses ...'."""
    from collections import Counter

    from ldn_derm.knowledge.models import Outcome

    improved = sum(e.outcome is Outcome.IMPROVED for e in entries)
    designs = Counter(e.design.value for e in entries)
    kinds = ", ".join(
        f"{n} {DESIGN_NAMES.get(d, (d.replace('-', ' '), d.replace('-', ' ') + 's'))[n != 1]}"
        for d, n in sorted(designs.items())
    )
    return (
        f"{improved} improved, {len(entries) - improved} mixed, no benefit or worse "
        f"({kinds}); doses {_doses(entries)}"
    )


def daily_dose_mg(order: dict[str, Any]) -> float | None:
    """The draft order's daily dose in mg, when its dosage states a mass dose and a frequency."""
    dosages = order.get("dosageInstruction")
    for dosage in dosages if isinstance(dosages, list) else []:
        if not isinstance(dosage, dict):
            continue
        rates = dosage.get("doseAndRate")
        for dr in rates if isinstance(rates, list) else []:
            qty = dr.get("doseQuantity") if isinstance(dr, dict) else None
            if not isinstance(qty, dict):
                continue
            value = qty.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            unit = str(qty.get("code") or qty.get("unit") or "").strip().lower()
            factor = MG_FACTORS.get(unit)
            timing = dosage.get("timing")
            repeat = timing.get("repeat") if isinstance(timing, dict) else None
            repeat = repeat if isinstance(repeat, dict) else {}
            frequency = repeat.get("frequency", 1)
            period = repeat.get("period", 1)
            per_day = PER_DAY.get(str(repeat.get("periodUnit", "d")))
            numbers = (frequency, period)
            if factor is None or per_day is None:
                return None
            if any(isinstance(x, bool) or not isinstance(x, int | float) for x in numbers):
                return None
            if period <= 0 or frequency <= 0 or value <= 0:
                return None
            return float(value) * factor * float(frequency) * per_day / float(period)
    return None


def _order_indication(order: dict[str, Any], assessment: Assessment) -> tuple[str, str] | None:
    """(condition id, how we know) for an order meant as LDN: a stated reason with low-dose
    evidence, else (when the order states no reason) the patient's first such indication.
    None otherwise: a reason studied only at standard doses (pruritus at 50 mg), or one the
    knowledge base does not hold (alcohol or opioid use disorder), is not ours to judge."""
    kb = get_knowledge()
    reasons = order.get("reasonCode")
    stated = False
    for concept in reasons if isinstance(reasons, list) else []:
        if not isinstance(concept, dict):
            continue
        codings = concept.get("coding")
        codings = [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []
        keys = [str(c.get(k) or "") for c in codings for k in ("code", "display")]
        keys.append(str(concept.get("text") or ""))
        for key in (k for k in keys if k.strip()):
            stated = True
            try:
                cid = kb.find_condition(key).id
            except LdnError:
                continue
            if kb.summarize(cid).positive_possibly_low > 0:
                return cid, "the order's reason"
    if stated:
        return None  # the prescriber said why, and it is not a condition with LDN evidence
    for ind in assessment.indications:
        if ind.evidence.positive_possibly_low > 0:
            return ind.condition, f"{ind.name} on the problem list"
    return None


def _suggested_regimen(condition_id: str) -> Regimen:
    """A published low-dose scheme for the condition (a preset), else the top of the cited range."""
    from datetime import date

    return _suggested_regimen_on(condition_id, date.today())


@lru_cache(maxsize=64)
def _suggested_regimen_on(condition_id: str, day: Any) -> Regimen:
    from ldn_derm.regimen.schedule import build_regimen

    kb = get_knowledge()
    presets = [p for p in kb.protocols.protocols if condition_id in p.conditions]
    for proto in presets:
        try:
            return build_regimen(preset=proto.id, start_date=day)
        except LdnError:
            continue  # a preset whose source leaves a needed parameter unreported
    return build_regimen(target_mg=kb.drug.canonical_low_dose.high, start_date=day)


@lru_cache(maxsize=64)
def _plan_parts(condition_id: str, day: Any) -> tuple[list[dict[str, Any]], str, list[str], str]:
    """(dosageInstruction, plan text in Markdown, references, one-line plan) for a condition."""
    from ldn_derm.regimen.monitoring import build_monitoring_plan
    from ldn_derm.regimen.prescription import build_prescription

    kb = get_knowledge()
    regimen = _suggested_regimen_on(condition_id, day)
    rx = build_prescription(condition_id, regimen, "capsule", authored_on=day)
    plan = build_monitoring_plan(condition_id, regimen)
    steps = [f"{s.dose_mg.normalize():f} mg" for s in regimen.steps]
    line = " → ".join(steps) + f" once daily {regimen.time.phrase}"
    scheme = regimen.protocol_name or (
        f"no published scheme for {kb.conditions[condition_id].name}: the top of the cited "
        "low-dose range"
    )
    lines = [f"**Regimen** ({scheme}): {line}."]
    for step in regimen.steps:
        lines.append(f"- {regimen.describe_step(step)}")
    for assumption in regimen.assumptions:  # what the source does not say, made visible
        lines.append(f"- Assumed: {assumption}")
    lines.append("")
    lines.append("**Monitoring**")
    for item in (*plan.side_effects, *plan.thyroid, *plan.opioids, *plan.follow_up, plan.stopping):
        caveat = f" *Caveat: {item.caveat.strip()}*" if item.caveat else ""
        lines.append(f"- **{item.title}.** {item.text}{caveat}")
    range_refs = (
        [] if regimen.protocol_name else [r for lr in kb.drug.low_dose_ranges for r in lr.refs]
    )
    refs = list(dict.fromkeys([*regimen.refs, *range_refs, *regimen.timing_refs, *plan.refs]))
    dosage = list(rx.medication_request.get("dosageInstruction") or [])
    return dosage, "\n".join(lines), refs, line


def _dose_range_text(mg: float, name: str, why: str) -> tuple[str, str, list[str]]:
    """(summary, detail, references) for a draft dose outside the program's low-dose range."""
    kb = get_knowledge()
    low, standard = kb.drug.canonical_low_dose, kb.drug.standard_dose
    ranges = [r for lr in kb.drug.low_dose_ranges for r in lr.refs]
    context = (
        f"The draft order gives {mg:g} mg of naltrexone a day for {name} ({why}). This program "
        f"uses {low.label()} as the low dose; the cited low-dose ranges differ at the edges."
    )
    if mg < low.low:
        summary = f"{mg:g} mg/day is below the low-dose range this program uses ({low.label()})"
        return summary, f"{context} Check that the dose is intended.", ranges
    above = kb.drug.statement("above-low-dose")
    summary = f"{mg:g} mg/day is above the low-dose range ({low.label()}) for {name}"
    detail = f"{context} {above.text.strip()}"
    if above.caveat:
        detail += f" Caveat: {above.caveat.strip()}"
    refs = [*ranges, *above.refs]
    if mg >= standard.low:
        detail += f" {standard.label()} is the standard dose for alcohol and opioid use disorder."
        refs += kb.drug.standard_dose_refs
    return summary, detail, refs


def cds_order_findings(
    records: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Findings for draft naltrexone orders: opioid use (critical), a dose outside the low-dose
    range for an inflammatory indication (warning, with a suggestion), and the titration and
    monitoring plan (info)."""
    from datetime import date

    import orjson

    kb = get_knowledge()
    assessment = _cds_assessment(records)
    out: list[dict[str, Any]] = []
    for f in assessment.findings:
        if f.severity.value == "contraindicated":
            out.append(
                {
                    "code": f.code,
                    "topic": "LDN contraindication",
                    "severity": "critical",
                    "summary": f.summary,
                    "detail": f.detail
                    + (f"\n\nTriggered by: {'; '.join(f.triggered_by)}." if f.triggered_by else ""),
                    "references": f.references,
                }
            )
    low = kb.drug.canonical_low_dose
    today = date.today()
    for order in orders:
        indication = _order_indication(order, assessment)
        if indication is None:
            continue  # e.g. naltrexone for alcohol or opioid use disorder: not ours to judge
        condition_id, why = indication
        name = kb.conditions[condition_id].name
        dosage, plan_md, plan_refs, plan_line = _plan_parts(condition_id, today)
        mg = daily_dose_mg(order)
        if mg is not None and not (low.low <= mg <= low.high):
            suggested = orjson.loads(orjson.dumps(order))  # a deep copy, several times faster
            suggested["dosageInstruction"] = dosage
            summary, detail, refs = _dose_range_text(mg, name, why)
            out.append(
                {
                    "code": "ldn-dose-outside-low-dose-range",
                    "topic": "LDN dose range",
                    "severity": "warning",
                    "summary": summary,
                    "detail": f"{detail} Suggested instead: {plan_line}.",
                    "references": list(dict.fromkeys([*refs, *plan_refs[:1]])),
                    "suggestion": {
                        "label": f"Change to low-dose naltrexone: {plan_line}",
                        "description": f"Replace the dosage with the low-dose regimen "
                        f"({plan_line}).",
                        "resource": suggested,
                    },
                }
            )
        dose_note = (
            f"The draft order's daily dose is {mg:g} mg."
            if mg is not None
            else "The draft order's daily dose could not be read (no mass dose and frequency)."
        )
        out.append(
            {
                "code": "ldn-titration-and-monitoring",
                "topic": "LDN titration and monitoring",
                "severity": "info",
                "summary": f"LDN plan for {name}: {plan_line}",
                "detail": f"{dose_note}\n\n{plan_md}",
                "references": plan_refs,
                "link_path": f"/prescribe?condition={condition_id}",
                "link_label": "Build the prescription and handout in ldn-derm",
            }
        )
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
