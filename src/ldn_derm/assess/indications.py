"""Indications: active conditions that match an LDN condition, with the evidence summary."""

from __future__ import annotations

from ldn_derm.assess.context import Context
from ldn_derm.assess.models import Finding, Indication, IndicationEvidence, MatchedBy, Severity
from ldn_derm.knowledge.base import ConditionSummary


def _matched_by(value: str | None) -> MatchedBy:
    return "code" if value == "code" else "stated" if value == "stated" else "text"


def indications(ctx: Context) -> tuple[list[Indication], list[Finding]]:
    """(indications, info findings about indications whose evidence is thin or negative)."""
    refs_by_condition: dict[str, list[str]] = {}
    how_by_condition: dict[str, MatchedBy] = {}
    for cond in ctx.profile.conditions:
        if not cond.active:
            continue
        for cid in cond.indications:
            refs_by_condition.setdefault(cid, []).append(cond.ref)
            # a code match outranks a text match, a stated indication outranks both
            how = _matched_by(cond.indication_match)
            previous = how_by_condition.get(cid)
            if previous is None or _rank(how) < _rank(previous):
                how_by_condition[cid] = how

    result: list[Indication] = []
    notes: list[Finding] = []
    for cid, refs in refs_by_condition.items():
        summary = ctx.kb.summarize(cid)
        condition = summary.condition
        result.append(
            Indication(
                condition=cid,
                name=condition.name,
                matched_from=list(dict.fromkeys(refs)),
                matched_by=how_by_condition[cid],
                evidence=IndicationEvidence(
                    studies=summary.studies,
                    positive=summary.positive,
                    negative_or_mixed=summary.negative_or_mixed,
                    doses_mg_per_day=list(summary.doses_mg_per_day),
                    positive_possibly_low=summary.positive_possibly_low,
                    positive_higher_dose=summary.positive_higher_dose,
                    negative_controlled_low=list(summary.negative_controlled_low),
                ),
                references=list(summary.references),
            )
        )
        if summary.studies == 0:
            notes.append(
                Finding(
                    code="indication-without-evidence",
                    severity=Severity.INFO,
                    summary=f"{condition.name}: no LDN study in the knowledge base",
                    detail=(
                        condition.note or "No study of naltrexone in this condition was found."
                    ).strip(),
                    triggered_by=list(dict.fromkeys(refs)),
                )
            )
        elif summary.positive == 0:
            notes.append(
                Finding(
                    code="indication-evidence-negative",
                    severity=Severity.INFO,
                    summary=(
                        f"{condition.name}: {summary.studies} stud"
                        f"{'y' if summary.studies == 1 else 'ies'}, none reporting improvement"
                    ),
                    detail=summary.line(),
                    triggered_by=list(dict.fromkeys(refs)),
                    references=list(summary.references),
                )
            )
        elif summary.positive_possibly_low == 0:
            low = ctx.kb.drug.canonical_low_dose.label()
            doses = ", ".join(summary.higher_dose_positive_doses)
            notes.append(
                Finding(
                    code="indication-evidence-higher-dose-only",
                    severity=Severity.INFO,
                    summary=(
                        f"{condition.name}: improvement reported only at higher doses ({doses})"
                    ),
                    detail=(
                        f"The studies that reported improvement in {condition.name} gave "
                        f"naltrexone at {doses}, above the low-dose range ({low}). No study of "
                        "low-dose naltrexone in this condition reported improvement, so this "
                        f"evidence does not support LDN. {summary.line()}."
                    ),
                    triggered_by=list(dict.fromkeys(refs)),
                    references=list(summary.references),
                )
            )
        if summary.negative_controlled_low:
            notes.append(_negative_controlled(ctx, summary, list(dict.fromkeys(refs))))
    result.sort(
        key=lambda i: (-i.evidence.positive_possibly_low, -i.evidence.positive, i.condition)
    )
    return result, notes


def _negative_controlled(ctx: Context, summary: ConditionSummary, refs: list[str]) -> Finding:
    """A caution: a controlled study at a dose that may be low was negative. It outweighs
    uncontrolled reports of improvement, so the patient is not a plain candidate."""
    condition = summary.condition
    trials = [ctx.kb.evidence[i] for i in summary.negative_controlled_low]
    described = "; ".join(
        f"{e.study} ({e.design.value}, n={e.n or 'not reported'}, "
        f"{e.dose.label() if e.dose else 'dose not reported'}"
        f"{', added to ' + e.add_on_to if e.add_on_to else ''}): {e.outcome.value}"
        for e in trials
    )
    uncontrolled = (
        f" Uncontrolled reports that improved ({summary.positive_possibly_low} at a low or "
        "unreported dose) do not outweigh a negative controlled study."
        if summary.positive_possibly_low
        else ""
    )
    return Finding(
        code="indication-evidence-negative-controlled",
        severity=Severity.CAUTION,
        summary=(
            f"{condition.name}: the controlled evidence at a low dose is negative "
            f"({len(trials)} stud{'y' if len(trials) == 1 else 'ies'})"
        ),
        detail=(f"{described}.{uncontrolled} {summary.line()}."),
        triggered_by=refs,
        references=sorted({r for e in trials for r in e.refs}),
    )


def supported(indication: Indication) -> bool:
    """An indication with at least one study that reported improvement at a low dose, or at a
    dose the source does not report; improvement only at higher doses is not LDN evidence."""
    return indication.evidence.positive_possibly_low > 0


def _rank(how: str) -> int:
    return {"stated": 0, "code": 1, "text": 2}.get(how, 3)
