"""Comparator flags: which patient facts make each traditional systemic therapy riskier.

The patient's concerns (pregnancy, CKD, malignancy...) are gathered from clinical concepts,
lab cut-offs and the derived pregnancy status; each comparator flag in comparators.yaml whose
`concern` is present becomes a `Finding` worded by that flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ldn_derm.assess.context import Context, listing
from ldn_derm.assess.models import ComparatorResult, Finding, NotAssessed, Severity
from ldn_derm.assess.safety_rules import abnormal_liver_tests, childbearing_possible
from ldn_derm.knowledge.models import Concern, LabThreshold
from ldn_derm.patient.profile import LabFact, PregnancyStatus


@dataclass
class Evidence:
    """Why a concern applies to this patient."""

    facts: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    possible_only: bool = False  # e.g. pregnancy not excluded, rather than a pregnancy

    def add(self, fact: str, refs: list[str]) -> None:
        self.facts.append(fact)
        self.refs.extend(refs)


def patient_concerns(ctx: Context) -> dict[Concern, Evidence]:
    concerns: dict[Concern, Evidence] = {}
    profile = ctx.profile

    for concept in ctx.m.concepts.values():
        if concept.concern is None or concept.concern is Concern.PREGNANCY:
            continue  # pregnancy comes from the derived status below (it expires)
        found = profile.conditions_with(concept.id, include_history=concept.history_counts)
        for cond in found:
            state = "" if cond.active else " (history)"
            concerns.setdefault(concept.concern, Evidence()).add(f"{cond.text}{state}", [cond.ref])

    for lab_id, thresholds in ctx.m.thresholds.items():
        for threshold in thresholds:
            concept = ctx.m.concepts[threshold.concept]
            if concept.concern is None:
                continue
            hit = _lab_evidence(ctx, lab_id, threshold)
            if hit is not None:
                concerns.setdefault(concept.concern, Evidence()).add(*hit)

    for lab in abnormal_liver_tests(ctx):
        concerns.setdefault(Concern.LIVER_DISEASE, Evidence()).add(
            f"{lab.text} flagged high on {_when(lab)}", [lab.ref]
        )

    if profile.pregnancy is PregnancyStatus.PREGNANT:
        concerns[Concern.PREGNANCY] = Evidence(
            ["current pregnancy in the record"], list(profile.pregnancy_refs)
        )
    elif childbearing_possible(ctx):
        age = f"aged {profile.age}" if profile.age is not None else "age not recorded"
        concerns[Concern.PREGNANCY] = Evidence(
            [f"pregnancy not excluded ({profile.sex.value}, {age})"],
            [profile.patient_ref] if profile.patient_ref else [],
            possible_only=True,
        )
    return concerns


def _lab_evidence(
    ctx: Context, lab_id: str, threshold: LabThreshold
) -> tuple[str, list[str]] | None:
    recent = [x for x in ctx.recent_labs(lab_id) if x.value is not None]
    if not recent:
        return None
    latest = recent[0]
    units = {u.lower() for u in threshold.units}
    if latest.unit is not None and latest.unit.lower() not in units:
        ctx.notes.append(_unit_note(latest, threshold))
        return None
    if not _meets(latest.value, threshold):
        return None
    bound = (
        f"at least {threshold.at_least:g}"
        if threshold.at_least is not None
        else f"below {threshold.below:g}"
    )
    fact = f"latest {latest.text} {latest.value:g} {latest.unit or ''}".rstrip()
    fact += f" on {_when(latest)} ({bound})"
    refs = [latest.ref]
    if threshold.concept == "ckd":
        fact += _persistence(ctx, lab_id, threshold, latest, refs)
    return fact, refs


def _persistence(
    ctx: Context, lab_id: str, threshold: LabThreshold, latest: LabFact, refs: list[str]
) -> str:
    """Whether an earlier result also met the cut-off long enough before (KDIGO: > 3 months)."""
    if latest.effective is None:
        return ""
    span = ctx.days("ckd-persistence-days")
    earlier = [
        x
        for x in ctx.profile.labs_of(lab_id)
        if x.value is not None
        and x.effective is not None
        and latest.effective - x.effective >= span
        and _meets(x.value, threshold)
    ]
    if earlier:
        refs.append(earlier[0].ref)
        return f"; also on {_when(earlier[0])}, so lasting over {span.days} days"
    return f"; not shown to last {span.days} days"


def _meets(value: float | None, threshold: LabThreshold) -> bool:
    if value is None:
        return False
    if threshold.at_least is not None:
        return value >= threshold.at_least
    return threshold.below is not None and value < threshold.below


def _when(lab: LabFact) -> str:
    return lab.effective.isoformat() if lab.effective else "an unrecorded date"


def _unit_note(lab: LabFact, threshold: LabThreshold) -> NotAssessed:
    return NotAssessed(
        kind="observation",
        text=f"{lab.text} {lab.value:g} {lab.unit}",
        reason=f"unit not comparable with the cut-off ({', '.join(threshold.units)})",
        ref=lab.ref,
    )


def comparator_results(ctx: Context) -> list[ComparatorResult]:
    concerns = patient_concerns(ctx)
    results: list[ComparatorResult] = []
    for comparator in ctx.kb.comparators.values():
        flags: list[Finding] = []
        for flag in comparator.flags:
            evidence = concerns.get(flag.concern)
            if evidence is None:
                continue
            severity = Severity(flag.severity)
            if evidence.possible_only and severity is Severity.CONTRAINDICATED:
                severity = Severity.CAUTION  # possible, not established
            detail = [f"Patient: {listing(evidence.facts)}."]
            if evidence.possible_only:
                detail.append("Pregnancy is not established, only not excluded.")
            if flag.detail:
                detail.append(flag.detail.strip())
            if flag.caveat:
                detail.append(f"Caveat: {flag.caveat.strip()}")
            flags.append(
                Finding(
                    code=flag.id,
                    severity=severity,
                    summary=flag.summary,
                    detail=" ".join(detail),
                    triggered_by=list(dict.fromkeys(evidence.refs)),
                    references=list(flag.refs),
                )
            )
        flags.sort(key=lambda f: f.severity.rank)
        results.append(ComparatorResult(therapy=comparator.id, name=comparator.name, flags=flags))
    return results
