"""Evidence lines for a patient: one info `Finding` per active condition with naltrexone studies.

Studies at a low (or unreported) dose are LDN evidence; a condition studied only at higher doses
gets a line that says so, rather than passing 50 mg trials off as LDN evidence. The CDS
patient-view service renders these findings as cards; nothing here knows about cards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ldn_derm.assess.models import Assessment, Finding, Severity
from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.knowledge.base import dose_labels
from ldn_derm.knowledge.models import EvidenceEntry, Outcome

DESIGN_NAMES = {  # singular, plural
    "rct": ("randomised trial", "randomised trials"),
    "crossover-rct": ("crossover randomised trial", "crossover randomised trials"),
    "case-series": ("case series", "case series"),
    "retrospective-series": ("retrospective series", "retrospective series"),
}


@dataclass(frozen=True)
class ConditionEvidence:
    """The evidence line for one of the patient's conditions (condition id and name)."""

    condition: str
    name: str
    finding: Finding


def evidence_findings(
    assessment: Assessment, kb: KnowledgeBase | None = None
) -> list[ConditionEvidence]:
    """One info finding (code `ldn-evidence-<condition>`) per indication with studies."""
    kb = kb or get_knowledge()
    out: list[ConditionEvidence] = []
    for ind in assessment.indications:
        entries = kb.evidence_for(ind.condition)
        if not entries:
            continue  # nothing published to show
        ldn = [e for e in entries if kb.possibly_low(e)]  # low, straddling or unreported dose
        higher = [e for e in entries if e not in ldn]
        if ind.evidence.positive_possibly_low:
            summary = (
                f"Low-dose naltrexone has published evidence in {ind.name}: {studies(len(ldn))}"
            )
        elif ldn:
            summary = f"{ind.name}: no study of low-dose naltrexone reported improvement"
        else:
            summary = f"{ind.name}: naltrexone studied only above the low-dose range"
        if ldn:
            detail = (
                f"The knowledge base has {studies(len(ldn))} at a dose that may be low "
                f"(within or starting in the low-dose range, or not reported): "
                f"{evidence_line(ldn)}."
            )
        else:
            detail = f"No study of low-dose naltrexone in {ind.name} was found."
        if higher:
            detail += (
                f" {studies(len(higher)).capitalize()} used doses above the low-dose range: "
                f"{evidence_line(higher)}."
            )
            if all(kb.dose_class(e) == "standard" for e in higher):
                detail += (
                    f" {kb.drug.standard_dose.label()} is the standard dose for alcohol and "
                    "opioid use disorder, not LDN."
                )
        negative = [kb.evidence[i] for i in ind.evidence.negative_controlled_low]
        if negative:  # finding indication-evidence-negative-controlled says the same
            summary += "; a controlled trial at a low dose was negative"
            detail += (
                " Controlled evidence at a low dose is negative: "
                + "; ".join(f"{e.study} ({e.design.value}, n={e.n})" for e in negative)
                + "."
            )
        detail = (
            f"**{ind.name}** is on the problem list ({'; '.join(ind.matched_from)}). {detail} "
            f"Low dose means {kb.drug.canonical_low_dose.label()} (off label)."
        )
        refs = {r for e in entries for r in e.refs}
        refs |= {*kb.drug.low_dose_ranges[0].refs, *kb.drug.statement("off-label-use").refs}
        if higher:
            refs |= set(kb.drug.standard_dose_refs)
        finding = Finding(
            code=f"ldn-evidence-{ind.condition}",
            severity=Severity.INFO,
            summary=summary,
            detail=detail,
            triggered_by=list(ind.matched_from),
            references=sorted(refs),
        )
        out.append(ConditionEvidence(ind.condition, ind.name, finding))
    return out


def studies(n: int) -> str:
    return f"{n} stud{'y' if n == 1 else 'ies'}"


def doses_text(entries: list[EvidenceEntry]) -> str:
    """'3–4.5 mg/day, 6.25 mg/day; not reported in 2' (the doses the entries state)."""
    stated = ", ".join(dose_labels(entries))
    unreported = sum(e.dose is None for e in entries)
    missing = f"not reported in {unreported}" if unreported else ""
    return "; ".join(part for part in (stated, missing) if part)


def evidence_line(entries: list[EvidenceEntry]) -> str:
    """'2 improved, 1 mixed, no benefit, no difference or worse (2 case reports, 1 case
    series); doses ...'."""
    improved = sum(e.outcome is Outcome.IMPROVED for e in entries)
    designs = Counter(e.design.value for e in entries)
    kinds = ", ".join(
        f"{n} {DESIGN_NAMES.get(d, (d.replace('-', ' '), d.replace('-', ' ') + 's'))[n != 1]}"
        for d, n in sorted(designs.items())
    )
    return (
        f"{improved} improved, {len(entries) - improved} mixed, no benefit, no difference or worse "
        f"({kinds}); doses {doses_text(entries)}"
    )
