"""`ldn assess PATH`: is this patient a candidate for LDN? (FHIR bundle or patient profile)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ldn_derm.cli.app import app, console
from ldn_derm.cli.common import AS_OF_OPTION, FORMAT_OPTION, OutputFormat, as_of_date, emit_json
from ldn_derm.errors import InputError

if TYPE_CHECKING:
    from ldn_derm.assess import Assessment, Finding
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.patient import PatientProfile
    from ldn_derm.patient.profile import AllergyFact, ConditionFact, LabFact, MedicationFact

_PROFILE_REF = re.compile(r"profile:(medications|conditions|allergies|labs)\[(\d+)\]")
_PROFILE_KINDS = {
    "medications": "medication",
    "conditions": "condition",
    "allergies": "allergy",
    "labs": "lab",
}

_SEVERITY_STYLE = {"contraindicated": "bold red", "caution": "yellow", "info": "cyan"}
_CANDIDACY_STYLE = {
    "candidate": "bold green",
    "candidate-with-cautions": "bold yellow",
    "contraindicated": "bold red",
    "no-indication": "bold",
    "needs-review": "bold magenta",
}


@app.command()
def assess(
    path: str = typer.Argument(
        ...,
        help="FHIR R4 Bundle (JSON) or patient profile (YAML/JSON); '-' reads standard input.",
        show_default=False,
    ),
    as_of: str | None = AS_OF_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Assess a patient for low-dose naltrexone: indications, findings, comparators."""
    # Imported here so that `ldn --help` does not pay for the knowledge base and models.
    from ldn_derm.assess import assess as run_assessment
    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.patient import load_patient

    day = as_of_date(as_of)
    data, name = _read_input(path)
    kb = get_knowledge()
    profile = load_patient(data, as_of=day, name=name, kb=kb)
    result = run_assessment(profile, kb)
    if fmt is OutputFormat.json:
        emit_json(result)
    else:
        render(result, kb, labels=record_labels(profile))


def record_labels(profile: PatientProfile) -> dict[str, str]:
    """What a hand-written profile's internal references ('profile:medications[2]') stand for,
    in words a clinician reads ('medication 3: Fooxol'); FHIR references stay as they are."""
    labels: dict[str, str] = {}
    facts: list[MedicationFact | ConditionFact | AllergyFact | LabFact] = [
        *profile.medications,
        *profile.conditions,
        *profile.allergies,
        *profile.labs,
    ]
    for fact in facts:
        match = _PROFILE_REF.fullmatch(fact.ref)
        if match is not None:
            kind = _PROFILE_KINDS.get(match.group(1), match.group(1))
            labels[fact.ref] = f"{kind} {int(match.group(2)) + 1}: {fact.text}"
    return labels


def _read_input(path: str) -> tuple[bytes, str]:
    from ldn_derm.patient import MAX_INPUT_BYTES, check_size

    if path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        check_size(len(data), "standard input")
        return data, "standard input"
    file = Path(path)
    try:
        size = file.stat().st_size  # size first: never read a 2 GB file to refuse it
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if file.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    check_size(size, path)
    try:
        return file.read_bytes(), file.name
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


# ---------------------------------------------------------------------------- text rendering


def render(result: Assessment, kb: KnowledgeBase, labels: dict[str, str] | None = None) -> None:
    from rich.table import Table

    from ldn_derm.cli.app import escape

    p = result.patient
    age = f"{p.age}" if p.age is not None else "age unknown"
    deceased = f", died {p.deceased.isoformat()}" if p.deceased else ""
    console.print(
        f"[bold]Patient[/bold] {escape(p.id)} ({age}, {p.sex}{deceased})  "
        f"[bold]as of[/bold] {result.as_of.isoformat()}"
    )
    style = _CANDIDACY_STYLE[result.candidacy.value]
    console.print(f"[bold]Candidacy:[/bold] [{style}]{result.candidacy.value}[/{style}]")
    unchecked = result.finding("medication-unchecked")
    if unchecked is not None:
        console.print(
            f"[{style}]Screen incomplete:[/{style}] {escape(unchecked.summary)}", highlight=False
        )

    if result.indications:
        table = Table(title="Indications", title_justify="left", show_lines=False)
        columns = (
            "condition",
            "matched by",
            "studies",
            "improved at low dose",
            "improved only at higher dose",
            "mixed/none",
            "doses",
        )
        for column in columns:
            table.add_column(column)
        for ind in result.indications:
            ev = ind.evidence
            table.add_row(
                escape(ind.name),
                ind.matched_by,
                str(ev.studies),
                str(ev.positive_possibly_low),
                str(ev.positive_higher_dose),
                str(ev.negative_or_mixed),
                escape(", ".join(ev.doses_mg_per_day) or "-"),
            )
        console.print(table)
    else:
        console.print("[bold]Indications:[/bold] none matched in the record")

    console.print("[bold]Findings[/bold]" if result.findings else "[bold]Findings:[/bold] none")
    for finding in result.findings:
        _print_finding(finding, kb, indent="  ", labels=labels)

    _print_comparison(result, kb, labels)

    if result.not_assessed:
        console.print("[bold]Not assessed[/bold]")
        for item in result.not_assessed:
            shown = (labels or {}).get(item.ref, item.ref) if item.ref else None
            ref = (
                f" [dim]({escape(shown)})[/dim]"
                if shown and shown != item.ref
                else (f" [dim]{escape(item.ref)}[/dim]" if item.ref else "")
            )
            console.print(f"  - {escape(item.text)}: {escape(item.reason)}{ref}")
    console.print(
        f"[dim]Knowledge base {result.knowledge_base.version} "
        f"(reviewed {result.knowledge_base.reviewed.isoformat()}). "
        "Decision support only: it does not replace clinical judgement.[/dim]"
    )


_BASELINE_LABELS = (
    ("evidence", "evidence"),
    ("risk", "key risks"),
    ("screening", "before start"),
    ("monitoring", "monitoring"),
)


def _print_comparison(
    result: Assessment, kb: KnowledgeBase, labels: dict[str, str] | None = None
) -> None:
    """LDN and the traditional options: each option's baseline (evidence, key risks,
    screening, monitoring) and what this record means for it. Options for the patient's
    conditions (every option when none matched) show their baseline; the rest show flags."""
    from ldn_derm.cli.app import escape

    conditions = {i.condition for i in result.indications}
    console.print("[bold]Comparison with traditional systemic treatments[/bold]")
    others = [c for c in result.comparators if c.kind != "ldn"]
    if conditions and not any(conditions & set(c.conditions) for c in others):
        console.print(
            "  [dim]No traditional systemic option is held for the matched conditions; "
            "LDN's baseline is shown, other options only where the record flags them.[/dim]"
        )
    for comp in result.comparators:
        relevant = comp.kind == "ldn" or not conditions or bool(conditions & set(comp.conditions))
        if not relevant and not comp.flags:
            continue
        console.print(f"  [bold]{escape(comp.name)}[/bold] [dim]{escape(comp.drug_class)}[/dim]")
        if relevant:
            for topic, label in _BASELINE_LABELS:
                items = [b for b in comp.baseline if b.topic == topic]
                for i, item in enumerate(items):
                    head = f"{label:<13}" if i == 0 else " " * 13
                    console.print(f"    [cyan]{head}[/cyan] {escape(item.text)}", highlight=False)
        if comp.flags:
            label = "this patient" if comp.kind != "ldn" else "this patient (findings above)"
            console.print(f"    [cyan]{label}[/cyan]")
            for flag in comp.flags:
                _print_finding(flag, kb, indent="      ", with_detail=False, labels=labels)
        else:
            console.print("    [cyan]this patient [/cyan] no flag from the record")


def _print_finding(
    finding: Finding,
    kb: KnowledgeBase,
    indent: str,
    with_detail: bool = True,
    labels: dict[str, str] | None = None,
) -> None:
    from ldn_derm.cli.app import escape

    style = _SEVERITY_STYLE[finding.severity.value]
    console.print(
        f"{indent}[{style}]{finding.severity.value.upper():<15}[/{style}] "
        f"[bold]{finding.code}[/bold]  {escape(finding.summary)}"
    )
    if with_detail:
        console.print(f"{indent}  {escape(finding.detail)}", style="dim", highlight=False)
    if finding.triggered_by:
        shown = ", ".join((labels or {}).get(r, r) for r in finding.triggered_by[:4])
        more = len(finding.triggered_by) - 4
        extra = f" (+{more} more)" if more > 0 else ""
        console.print(f"{indent}  [dim]from: {escape(shown)}{extra}[/dim]")
    if finding.references:
        cited = [kb.references[r].short() if r in kb.references else r for r in finding.references]
        console.print(f"{indent}  [dim]refs: {escape('; '.join(cited))}[/dim]")
