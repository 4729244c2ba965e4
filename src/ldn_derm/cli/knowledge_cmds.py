"""`ldn evidence`, `ldn drug` and `ldn refs`: the knowledge base, cited, in the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from ldn_derm.cli.app import app, console
from ldn_derm.cli.common import FORMAT_OPTION, OutputFormat, emit_json
from ldn_derm.errors import InputError

if TYPE_CHECKING:  # the knowledge base (pydantic models) loads only when a command runs
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.citations import Citations
    from ldn_derm.knowledge.models import EvidenceEntry, Reference

OUTCOME_STYLE = {"improved": "green", "mixed": "yellow", "no-benefit": "red", "worse": "bold red"}


def references_table(kb: KnowledgeBase, cites: Citations) -> Table:
    """The numbered reference list for what `cites` has marked so far."""
    table = Table(title="References", show_lines=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Reference")
    table.add_column("Certainty", no_wrap=True)
    for i, ref_id in enumerate(cites.order, start=1):
        ref = kb.references[ref_id]
        table.add_row(str(i), escape(format_reference(ref)), ref.certainty.value)
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
        summary = kb.summarize(cid)
        table = Table(
            title=f"{summary.condition.name}",
            caption=escape(summary.line()),
            caption_justify="left",
            expand=True,
            show_lines=True,
        )
        for col, kw in (
            ("Study", {"no_wrap": True}),
            ("Design", {}),
            ("n", {"justify": "right"}),
            ("Dose", {"no_wrap": True}),
            ("Outcome", {"no_wrap": True}),
            ("Effect", {"ratio": 3}),
            ("Refs", {"no_wrap": True}),
        ):
            table.add_column(col, **kw)
        for e in kb.evidence_for(cid):
            dose = e.dose.label() if e.dose else "not reported"
            effect = escape(e.effect)
            if e.conflicts:
                effect += f"\n[italic]Conflict: {escape(e.conflicts)}[/italic]"
            table.add_row(
                escape(e.study),
                e.design.value,
                str(e.n) if e.n else "–",
                dose,
                f"[{OUTCOME_STYLE[e.outcome.value]}]{e.outcome.value}[/]",
                effect,
                escape(cites.mark(e.refs).strip()),
            )
        console.print(table)
    console.print(references_table(kb, cites))
    console.print(
        f"{kb.evidence_mix()} This supports clinical judgement and does not replace it.",
        style="italic",
    )


def _conditions_with_evidence(kb: KnowledgeBase) -> list[str]:
    return [cid for cid in kb.conditions if kb.evidence_for(cid)]


@app.command()
def drug(output: OutputFormat = FORMAT_OPTION) -> None:
    """The low-dose naltrexone monograph, every statement with its citations."""
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
                line += f" [yellow](certainty: {item.certainty})[/yellow]"
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
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    if ref_id is not None and ref_id not in kb.references:
        raise InputError(f"unknown reference '{ref_id}' (see `ldn refs` for the list)")
    chosen = [kb.references[ref_id]] if ref_id else list(kb.references.values())
    if output is OutputFormat.json:
        emit_json([r.model_dump(mode="json") for r in chosen])
        return
    table = Table(title="References", expand=True)
    table.add_column("Id", no_wrap=True)
    table.add_column("Reference")
    table.add_column("Certainty", no_wrap=True)
    for ref in chosen:
        table.add_row(ref.id, escape(format_reference(ref)), ref.certainty.value)
    console.print(table)
    if ref_id:
        from ldn_derm.knowledge.loader import iter_refs

        trees: list[tuple[str, object]] = [
            ("evidence", list(kb.evidence.values())),
            ("safety", list(kb.safety.values())),
            ("comparators", list(kb.comparators.values())),
            ("drug", kb.drug),
            ("terminology", kb.terminology),
            ("pkpd", kb.pkpd),
        ]
        places = sorted(
            {
                f"{name}: {where}"
                for name, tree in trees
                for r, where in iter_refs(tree)
                if r == ref_id
            }
        )
        console.print("Cited by:\n  " + "\n  ".join(places))
