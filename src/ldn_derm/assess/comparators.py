"""Comparator flags: which patient facts make each traditional systemic therapy riskier.

The patient's concerns (pregnancy, CKD, malignancy...) are gathered from clinical concepts,
lab cut-offs and the derived pregnancy status; each comparator flag in comparators.yaml whose
`concern` is present becomes a `Finding` worded by that flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ldn_derm.assess.context import Context, listing
from ldn_derm.assess.labs import lab_evidence, when
from ldn_derm.assess.models import ComparatorResult, Finding, Severity
from ldn_derm.assess.safety_rules import abnormal_liver_tests, childbearing_possible
from ldn_derm.knowledge.models import Concern
from ldn_derm.patient.profile import PregnancyStatus


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
            hit = lab_evidence(ctx, lab_id, threshold)
            if hit is not None:
                concerns.setdefault(concept.concern, Evidence()).add(*hit)

    for lab in abnormal_liver_tests(ctx):
        concerns.setdefault(Concern.LIVER_DISEASE, Evidence()).add(
            f"{lab.text} flagged high on {when(lab)}", [lab.ref]
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
