"""CDS Hooks findings: the core's decisions (assess.evidence, regimen.orders) as the dicts
`cards.render_card` draws. Nothing is decided here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ldn_derm.assess.models import Assessment, Finding

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
