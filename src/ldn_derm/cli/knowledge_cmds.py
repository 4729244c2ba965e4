"""`ldn evidence`, `ldn drug` and `ldn refs`: the knowledge base, cited, in the terminal."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import typer

from ldn_derm.cli.app import app, console
from ldn_derm.cli.common import FORMAT_OPTION, OutputFormat, emit_json
from ldn_derm.errors import InputError

if TYPE_CHECKING:  # the knowledge base and rich's tables load only when a command runs
    from rich.table import Table

    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.citations import Citations
    from ldn_derm.knowledge.models import EvidenceEntry, Reference

OUTCOME_STYLE = {
    "improved": "green",
    "mixed": "yellow",
    "no-benefit": "red",
    "no-difference-vs-comparator": "yellow",
    "worse": "bold red",
}


WIDE = 120  # below this many columns, tables become stacked blocks


def provenance(value: str) -> str:
    """What was read for a fact with this `certainty` (knowledge.models.PROVENANCE)."""
    from ldn_derm.knowledge.models import PROVENANCE

    return PROVENANCE.get(value, value)


def references_table(kb: KnowledgeBase, cites: Citations) -> Table:
    """The numbered reference list for what `cites` has marked so far."""
    from rich.table import Table

    from ldn_derm.cli.app import escape

    table = Table(title="References", show_lines=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Reference")
    if console.width >= WIDE:
        table.add_column("Source read", no_wrap=True)
    for i, ref_id in enumerate(cites.order, start=1):
        ref = kb.references[ref_id]
        seen = provenance(ref.certainty.value)
        if console.width >= WIDE:
            table.add_row(str(i), escape(format_reference(ref)), seen)
        else:
            table.add_row(str(i), escape(format_reference(ref)) + f" [dim](read: {seen})[/dim]")
    return table


def format_reference(ref: Reference) -> str:
    text = ref.vancouver()
    if ref.unverified:
        text += f" (unverified: {', '.join(ref.unverified)})"
    return text + f" [{ref.id}]"


def _dose_json(entry: EvidenceEntry) -> float | list[float] | None:
    if entry.dose is None:
        return None
    if entry.dose.low == entry.dose.high:
        return entry.dose.low
    return [entry.dose.low, entry.dose.high]


def evidence_json(kb: KnowledgeBase, entries: list[EvidenceEntry]) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "condition": e.condition,
            "condition_name": kb.conditions[e.condition].name,
            "study": e.study,
            "design": e.design.value,
            "n": e.n,
            "dose_mg_per_day": _dose_json(e),
            "dose_class": kb.dose_class(e),
            "dose_note": e.dose_note,
            "duration": e.duration,
            "outcome": e.outcome.value,
            "effect": e.effect,
            "measures": e.measures,
            "time_to_response": e.time_to_response,
            "adverse_events": e.adverse_events,
            "add_on_to": e.add_on_to,
            "conflicts": e.conflicts,
            "certainty": e.certainty.value,
            "references": e.refs,
        }
        for e in entries
    ]


@app.command()
def evidence(
    condition: str | None = typer.Argument(
        None, help="Condition id, name, ICD-10-CM/SNOMED code or alias; all when omitted."
    ),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Evidence table by condition: study, design, n, dose, outcome, references."""
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    ids = [kb.find_condition(condition).id] if condition else _conditions_with_evidence(kb)
    entries = [e for cid in ids for e in kb.evidence_for(cid)]
    if output is OutputFormat.json:
        emit_json(evidence_json(kb, entries))
        return

    from ldn_derm.knowledge.citations import Citations

    cites = Citations()
    for cid in ids:
        if console.width >= WIDE:
            console.print(_evidence_table(kb, cid, cites))
        else:
            _evidence_blocks(kb, cid, cites)
    console.print(references_table(kb, cites))
    console.print(
        f"{kb.evidence_mix()} This supports clinical judgement and does not replace it.",
        style="italic",
    )


def _effect_text(e: EvidenceEntry) -> str:
    from ldn_derm.cli.app import escape

    effect = escape(e.effect)
    if e.add_on_to:
        effect += f"\n[bold]Add-on, not naltrexone alone:[/bold] with {escape(e.add_on_to)}"
    if e.conflicts:
        effect += f"\n[italic]Conflict: {escape(e.conflicts)}[/italic]"
    return effect


def _outcome(e: EvidenceEntry, wrap: bool = True) -> str:
    # 'no-difference-vs-comparator' wraps after 'no-difference' in a table cell
    label = e.outcome.value.replace("-vs-", " vs-") if wrap else e.outcome.value
    return f"[{OUTCOME_STYLE[e.outcome.value]}]{label}[/]"


def _evidence_table(kb: KnowledgeBase, cid: str, cites: Citations) -> Table:
    from rich.table import Table

    from ldn_derm.cli.app import escape

    summary = kb.summarize(cid)
    table = Table(
        title=f"{summary.condition.name}",
        caption=escape(summary.line()),
        caption_justify="left",
        expand=True,
        show_lines=True,
    )
    for col, kw in (
        ("Study", {"ratio": 1, "min_width": 10}),
        ("Design", {"max_width": 14}),
        ("n", {"justify": "right"}),
        ("Dose", {"no_wrap": True}),
        ("Outcome", {"max_width": 14}),
        ("Effect", {"ratio": 3}),
        ("Refs", {"no_wrap": True}),
    ):
        table.add_column(col, **kw)
    for e in kb.evidence_for(cid):
        table.add_row(
            escape(e.study),
            e.design.value,
            str(e.n) if e.n else "–",
            e.dose.label() if e.dose else "not reported",
            _outcome(e),
            _effect_text(e),
            escape(cites.mark(e.refs).strip()),
        )
    return table


def _evidence_blocks(kb: KnowledgeBase, cid: str, cites: Citations) -> None:
    """The same content as the table, one block per study, for terminals under WIDE columns."""
    from ldn_derm.cli.app import escape

    summary = kb.summarize(cid)
    console.rule(f"[bold]{escape(summary.condition.name)}[/bold]", align="left")
    for e in kb.evidence_for(cid):
        dose = e.dose.label() if e.dose else "dose not reported"
        size = f", n={e.n}" if e.n else ""
        console.print(
            f"[bold]{escape(e.study)}[/bold] {escape(cites.mark(e.refs).strip())} — "
            f"{e.design.value.replace('-', ' ')}{size}, {escape(dose)}: {_outcome(e, False)}"
        )
        console.print(_effect_text(e), style="dim", highlight=False)
    console.print(f"[italic]{escape(summary.line())}[/italic]")
    console.print()


def _conditions_with_evidence(kb: KnowledgeBase) -> list[str]:
    return [cid for cid in kb.conditions if kb.evidence_for(cid)]


@app.command()
def drug(output: OutputFormat = FORMAT_OPTION) -> None:
    """The low-dose naltrexone monograph, every statement with its citations."""
    from ldn_derm.cli.app import escape
    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.knowledge.monograph import monograph_sections

    kb = get_knowledge()
    sections = monograph_sections(kb)
    if output is OutputFormat.json:
        emit_json(
            {
                "drug": kb.drug.name,
                "standard_dose": kb.drug.standard_dose.label(),
                "low_dose": kb.drug.canonical_low_dose.label(),
                "knowledge_base": {
                    "version": kb.meta.version,
                    "reviewed": kb.meta.reviewed.isoformat(),
                },
                "sections": [s.as_dict() for s in sections],
            }
        )
        return
    from ldn_derm.knowledge.citations import Citations

    cites = Citations()
    console.print(
        f"[bold]Naltrexone, low dose (LDN)[/bold] — {kb.drug.canonical_low_dose.label()} "
        f"(standard dose {kb.drug.standard_dose.label()}). Knowledge base "
        f"{kb.meta.version}, reviewed {kb.meta.reviewed.isoformat()}."
    )
    for section in sections:
        console.rule(f"[bold]{escape(section.title)}")
        for item in section.items:
            line = f"• {escape(item.text)}{escape(cites.mark(item.refs))}"
            if item.frequency:
                line += f" [dim]({escape(item.frequency)})[/dim]"
            if item.certainty not in {"seen-article", "seen-abstract", "seen-label"}:
                line += f" [yellow](source: {provenance(item.certainty)})[/yellow]"
            console.print(line)
            if item.caveat:
                console.print(f"  [italic]Caveat: {escape(item.caveat)}[/italic]")
    console.print(references_table(kb, cites))


@app.command()
def refs(
    ref_id: str | None = typer.Argument(None, help="A reference id; all when omitted."),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """The reference list (or one reference and what cites it)."""
    from rich.table import Table

    from ldn_derm.cli.app import escape
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    if ref_id is not None and ref_id not in kb.references:
        raise InputError(f"unknown reference '{ref_id}' (see `ldn refs` for the list)")
    chosen = [kb.references[ref_id]] if ref_id else list(kb.references.values())
    if output is OutputFormat.json:
        emit_json(chosen)
        return
    if console.width >= WIDE:
        table = Table(title="References", expand=True)
        table.add_column("Id", no_wrap=True)
        table.add_column("Reference")
        table.add_column("Source read", no_wrap=True)
        for ref in chosen:
            table.add_row(ref.id, escape(format_reference(ref)), provenance(ref.certainty.value))
        console.print(table)
    else:
        for ref in chosen:
            console.print(
                f"[bold]{escape(ref.id)}[/bold] {escape(format_reference(ref))} "
                f"[dim](read: {provenance(ref.certainty.value)})[/dim]"
            )
    if ref_id:
        places = citing_places(kb, ref_id)
        console.print("Cited by:\n  " + "\n  ".join(escape(p) for p in places))


def _label(obj: object) -> str | None:
    for attr in ("study", "title", "name"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value.strip():
            return value.strip()
    text = getattr(obj, "text", None)
    if isinstance(text, str) and text.strip():
        words = text.strip()
        return words if len(words) <= 60 else words[:57].rstrip() + "…"
    ident = getattr(obj, "id", None)
    return str(ident) if ident else None


def _citers(obj: object, trail: tuple[str, ...], ref_id: str) -> list[str]:
    """Readable places ('Safety › Liver disease…') whose `refs` lists cite `ref_id`."""
    found: list[str] = []
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        label = _label(obj)
        here = (*trail, label) if label and label not in trail else trail
        for spec in dataclasses.fields(obj):
            name = spec.name
            value = getattr(obj, name)
            if (name == "refs" or name.endswith("_refs")) and isinstance(value, list):
                if ref_id in value:
                    found.append(" › ".join(here))
            else:
                found += _citers(value, here, ref_id)
    elif isinstance(obj, list | tuple):
        for item in obj:
            found += _citers(item, trail, ref_id)
    elif isinstance(obj, dict):
        for item in obj.values():
            found += _citers(item, trail, ref_id)
    return found


def citing_places(kb: KnowledgeBase, ref_id: str) -> list[str]:
    """Where a reference is cited, named as a reader would look for it (no internal paths)."""
    areas: list[tuple[str, object]] = [
        ("Evidence", [(e, kb.conditions[e.condition].name) for e in kb.evidence.values()]),
        ("Monograph", kb.drug),
        ("Safety", list(kb.safety.values())),
        ("Comparators", list(kb.comparators.values())),
        ("Conditions", list(kb.conditions.values())),
        ("Prescribing protocols", kb.protocols),
        ("Mechanism model", kb.pkpd),
        ("Terminology", kb.terminology),
    ]
    places: list[str] = []
    for area, tree in areas:
        if area == "Evidence":
            for entry, condition in tree:  # type: ignore[attr-defined]
                places += _citers(entry, (area, condition), ref_id)
        else:
            places += _citers(tree, (area,), ref_id)
    return list(dict.fromkeys(places)) or ["nothing (an uncited reference fails the loader)"]
