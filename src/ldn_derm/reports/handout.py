"""Patient handout: one Jinja2 template rendered to HTML, and to PDF with WeasyPrint.

The view model (`handout_context`) is built from the prescription and the knowledge base, so
numbers shown to the patient (how often vivid dreams occur, storage, time to response) come
from cited data. WeasyPrint is imported only when a PDF is asked for.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ldn_derm.errors import InputError
from ldn_derm.knowledge.citations import Citations, reference_line
from ldn_derm.regimen.compounding import Form
from ldn_derm.regimen.dose import fmt_mg
from ldn_derm.regimen.monitoring import HOLD_ITEM, MonitorItem, hold_parameter
from ldn_derm.regimen.schedule import DoseTime

if TYPE_CHECKING:
    import jinja2

    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.regimen.prescription import Prescription

TEMPLATES = Path(__file__).parent / "templates"
Paper = Literal["a4", "letter"]
PAGE_SIZES: dict[str, str] = {"a4": "A4", "letter": "Letter"}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _day(d: date) -> str:
    return f"{d.day} {d.strftime('%b %Y')}"


def _percent(kb: KnowledgeBase, item_id: str) -> float | None:
    item = kb.safety.get(item_id)
    if item is None:
        return None
    for f in item.frequency:
        if f.percent is not None:
            return f.percent
    return None


def _refs(items: tuple[MonitorItem, ...], *ids: str) -> list[str]:
    """References of the monitoring items with these ids (in that order)."""
    return [r for ident in ids for item in items if item.id == ident for r in item.refs]


# what a comparator flag means for the patient, in the option grid's "For you" column
_FOR_YOU = {"contraindicated": "Not advised for you", "caution": "Needs extra care for you"}


def option_grid(rx: Prescription, kb: KnowledgeBase, citations: Citations) -> dict[str, Any]:
    """LDN and the traditional options for the prescribed condition, in plain words.

    Columns: how good the evidence is, the tests before and during treatment, the main risks,
    and, when a patient record was assessed, what it means for this patient. Every cell is
    cited from the same knowledge base lines the clinician sees.
    """
    from ldn_derm.assess.comparators import LDN_ID, comparator_baseline, ldn_baseline
    from ldn_derm.assess.models import BaselineItem, BaselineTopic

    condition = rx.condition.id
    assessed = {c.therapy: c for c in rx.patient.comparators} if rx.patient else {}
    options: list[tuple[str, str, list[BaselineItem]]] = [
        (LDN_ID, kb.ldn_option.plain_name, ldn_baseline(kb, [condition]))
    ]
    options += [
        (c.id, c.plain_name or c.name, comparator_baseline(c))
        for c in kb.comparators.values()
        if condition in c.conditions
    ]

    def cell(baseline: list[BaselineItem], topics: set[BaselineTopic]) -> dict[str, Any]:
        items = [b for b in baseline if b.topic in topics and b.plain]
        return {
            "lines": [b.plain for b in items],
            "cite": citations.mark([r for b in items for r in b.references]),
        }

    rows = []
    for ident, name, baseline in options:
        flags = assessed[ident].flags if ident in assessed else []
        rows.append(
            {
                "id": ident,
                "name": name,
                "ldn": ident == LDN_ID,
                "evidence": cell(baseline, {"evidence"}),
                "tests": cell(baseline, {"screening", "monitoring"}),
                "risks": cell(baseline, {"risk"}),
                "for_you": [
                    {
                        "label": _FOR_YOU[f.severity.value],
                        "text": f.summary,
                        "cite": citations.mark(f.references),
                    }
                    for f in flags
                    if f.severity.value in _FOR_YOU
                ],
            }
        )
    return {"rows": rows, "personal": bool(assessed), "alternatives": len(rows) > 1}


def handout_context(
    rx: Prescription, *, paper: Paper | str = "a4", kb: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Everything the template shows, as plain values (also handy for the web pages)."""
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    size = PAGE_SIZES.get(str(paper).lower())
    if size is None:
        raise InputError(f"paper must be 'a4' or 'letter' (got '{paper}')")
    regimen, plan = rx.regimen, rx.compounding
    calendar = []
    for i, step in enumerate(regimen.steps):
        dates = regimen.step_dates(step)
        if plan.form is Form.CAPSULE:
            amount = f"1 capsule of {fmt_mg(step.dose_mg)} mg"
        else:
            line = plan.liquid[i]
            amount = f"{fmt_mg(line.volume_ml)} mL in the oral syringe"
        calendar.append(
            {
                "dates": f"{_day(dates[0])} to {_day(dates[1])}" if dates else "",
                "days": f"{step.start_day} to {step.end_day}",
                "dose": f"{fmt_mg(step.dose_mg)} mg",
                "amount": amount,
                "when": regimen.time.phrase,
            }
        )
    citations = Citations()
    # the opening lines (approved at much higher doses; off label) come first on the page
    cite_intro = citations.mark(
        [r for i in ("approved-use", "off-label-use") for r in kb.drug.statement(i).refs]
    )
    expect = [
        {
            "study": r.study,
            "text": r.time_to_response,
            "dose": r.dose,
            "cite": citations.mark(r.refs),
        }
        for r in rx.monitoring.response_times
        if r.outcome == "improved" and r.dose_class in ("low", "unknown")
    ]
    mon = rx.monitoring
    hold = hold_parameter(kb)
    storage = None
    for s in plan.stability:
        if s.days is not None:
            storage = next(
                (f.storage for f in kb.protocols.compounding.stability if f.days == s.days),
                None,
            )
            break
    first = regimen.start_date
    end = (
        regimen.step_dates(regimen.steps[-1])[1]  # type: ignore[index]
        if first is not None
        else None
    )
    context: dict[str, Any] = {
        "page_size": size,
        "condition": rx.condition.name,
        "medicine": (
            "capsules" if plan.form is Form.CAPSULE else "liquid (measured with an oral syringe)"
        ),
        "liquid": plan.form is Form.LIQUID,
        "concentration": (
            fmt_mg(plan.concentration_mg_per_ml or Decimal(0)) if plan.form is Form.LIQUID else None
        ),
        "start": _day(first) if first else None,
        "end": _day(end) if end else None,
        "days": regimen.days,
        "calendar": calendar,
        "bedtime": regimen.time is DoseTime.BEDTIME,
        "time_phrase": regimen.time.phrase,
        "titrates": len(regimen.steps) > 1,
        "expect": expect,
        "cite_intro": cite_intro,
        "dreams_percent": _percent(kb, "vivid-dreams"),
        "cite_side_effects": citations.mark([r for i in mon.side_effects for r in i.refs]),
        "cite_opioids": citations.mark(_refs(mon.opioids, "opioid-interactions")),
        "cite_blockade": citations.mark(_refs(mon.opioids, "overcoming-blockade")),
        "cite_surgery": citations.mark(_refs(mon.opioids, HOLD_ITEM, "perioperative-opioids")),
        "cite_restart": citations.mark(
            list(kb.safety["opioid-free-interval"].refs)
            if "opioid-free-interval" in kb.safety
            else []
        ),
        "hold_days": f"{hold.value:g}",
        "hold_hours": f"{hold.value * 24:g}",
        "cite_thyroid": citations.mark([r for i in mon.thyroid for r in i.refs]),
        "cite_stopping": citations.mark(mon.stopping.refs),
        "cite_pregnancy": citations.mark(
            [r for i in ("pregnancy", "lactation") if i in kb.safety for r in kb.safety[i].refs]
        ),
        "thyroid_known": mon.thyroid_disease_known,
        "options": option_grid(rx, kb, citations),
        "storage": storage,
        "generated": rx.authored_on.isoformat(),
    }
    context["references"] = [reference_line(kb.references[r]) for r in citations.order]
    return context


def render_handout_html(
    rx: Prescription, *, paper: Paper | str = "a4", kb: KnowledgeBase | None = None
) -> str:
    """The patient handout as a standalone HTML page."""
    template = _environment().get_template("handout.html.j2")
    return template.render(**handout_context(rx, paper=paper, kb=kb))


def render_handout_pdf(
    rx: Prescription,
    *,
    paper: Paper | str = "a4",
    kb: KnowledgeBase | None = None,
    html: str | None = None,
) -> bytes:
    """The same handout as PDF bytes (WeasyPrint); pass `html` to reuse a rendered page."""
    from weasyprint import HTML

    page = html if html is not None else render_handout_html(rx, paper=paper, kb=kb)
    pdf = HTML(string=page, base_url=str(TEMPLATES)).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
