"""The prescription as a printable PDF for the prescriber (the text the pharmacy reads, the
schedule, who it is for, the overrides recorded, and the monitoring plan with its references).
Rendered with the handout's Jinja2 environment and WeasyPrint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ldn_derm.knowledge.citations import Citations, reference_line
from ldn_derm.reports.handout import PAGE_SIZES, _environment

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.regimen.prescription import Prescription


def render_prescription_html(
    rx: Prescription, *, paper: str = "a4", kb: KnowledgeBase | None = None
) -> str:
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    from ldn_derm.errors import InputError

    if paper not in PAGE_SIZES:
        raise InputError(f"paper '{paper}' is not one of: {', '.join(PAGE_SIZES)}")
    citations = Citations()
    plan = rx.monitoring
    groups = [
        ("Side effects to ask about", plan.side_effects),
        ("Thyroid", plan.thyroid),
        ("Opioids, procedures and pain medicine", plan.opioids),
        ("Follow-up visits", plan.follow_up),
        ("Stopping", (plan.stopping,)),
    ]
    sections = [
        (title, [(i.title, i.text, i.caveat, citations.mark(i.refs)) for i in items])
        for title, items in groups
    ]
    return (
        _environment()
        .get_template("prescription.html.j2")
        .render(
            page_size=PAGE_SIZES[paper],
            rx=rx,
            patient=rx.patient,
            overrides=[(o.title(kb), o.reason) for o in rx.overrides],
            sections=sections,
            thyroid_disease_known=plan.thyroid_disease_known,
            references=[reference_line(kb.references[r]) for r in citations.order],
            kb_version=kb.meta.version,
        )
    )


def render_prescription_pdf(
    rx: Prescription, *, paper: str = "a4", kb: KnowledgeBase | None = None
) -> bytes:
    from weasyprint import HTML

    pdf = HTML(string=render_prescription_html(rx, paper=paper, kb=kb)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
