"""The comparison table: LDN and the traditional systemic options, for this patient.

Every option (LDN included) carries its baseline - how good the evidence is, its key risks, the
screening before starting and the monitoring during treatment - whether or not the record raises
anything. On top of that, the patient's concerns (pregnancy, child-bearing potential, CKD,
malignancy, current methotrexate...) are gathered from clinical concepts, lab cut-offs, the
derived pregnancy status and current medicines; each comparator flag in comparators.yaml whose
`concern` is present becomes a `Finding` worded by that flag. LDN's own flags are the
assessment's contraindications and cautions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ldn_derm.assess.context import Context, describe_medication, listing
from ldn_derm.assess.labs import lab_evidence, when
from ldn_derm.assess.models import (
    BaselineItem,
    BaselineTopic,
    ComparatorResult,
    Finding,
    Indication,
    Severity,
)
from ldn_derm.assess.safety_rules import abnormal_liver_tests, childbearing_possible
from ldn_derm.knowledge import KnowledgeBase
from ldn_derm.knowledge.models import (
    Comparator,
    Concern,
    LdnFact,
    MedicineConcern,
    OptionFact,
    Outcome,
)
from ldn_derm.patient.profile import MedicationFact, MedStatus, PregnancyStatus, Sex
from ldn_derm.patient.terminology import norm

LDN_ID = "ldn"


@dataclass
class Evidence:
    """Why a concern applies to this patient."""

    facts: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    possible_only: bool = False  # e.g. pregnancy not excluded, rather than a pregnancy
    possible_note: str = "Pregnancy is not established, only not excluded."

    def add(self, fact: str, refs: Sequence[str]) -> None:
        self.facts.append(fact)
        self.refs.extend(refs)


# ---------------------------------------------------------------------------- concerns


def patient_concerns(ctx: Context) -> dict[Concern, Evidence]:
    concerns: dict[Concern, Evidence] = {}
    profile = ctx.profile

    for concept in ctx.m.concepts.values():
        if concept.concern in (None, Concern.PREGNANCY, Concern.LACTATION):
            continue  # pregnancy and breastfeeding come from the derived status below (expiry)
        found = profile.conditions_with(concept.id, include_history=concept.history_counts)
        for cond in found:
            state = "" if cond.active else " (history)"
            concerns.setdefault(concept.concern, Evidence()).add(f"{cond.text}{state}", [cond.ref])

    for lab_id, thresholds in ctx.m.thresholds.items():
        for threshold in thresholds:
            concern = ctx.m.concepts[threshold.concept].concern
            if concern is None:
                continue
            hit = lab_evidence(ctx, lab_id, threshold)
            if hit is None:
                continue
            if concern not in concerns and not threshold.certainty.is_primary:
                # a result past a cut-off seen only in secondary sources (triglycerides >= 150
                # mg/dL for hyperlipidaemia) is not a diagnosis: it cannot establish a
                # contraindication (the acitretin label's is for chronically raised lipids)
                concerns[concern] = Evidence(
                    possible_only=True,
                    possible_note=(
                        "Not established: a lab result past a cut-off taken from secondary "
                        "sources, not a recorded diagnosis; confirm before relying on it."
                    ),
                )
            established = concerns.setdefault(concern, Evidence())
            if threshold.certainty.is_primary:
                established.possible_only = False  # a primary cut-off establishes it
            established.add(*hit)

    for lab in abnormal_liver_tests(ctx):
        concerns.setdefault(Concern.ABNORMAL_LIVER_TESTS, Evidence()).add(
            f"{lab.text} flagged high on {when(lab)}", [lab.ref]
        )

    # menopause, hysterectomy, both ovaries removed: no pregnancy now or later (acitretin)
    ended = profile.conditions_with("reproductive-potential-ended", include_history=True)
    if profile.pregnancy is PregnancyStatus.PREGNANT:
        concerns[Concern.PREGNANCY] = Evidence(
            ["current pregnancy in the record"], list(profile.pregnancy_refs)
        )
    elif childbearing_possible(ctx) and not ended:
        concerns[Concern.PREGNANCY] = Evidence(
            [f"pregnancy not excluded ({profile.sex.value}, {_age(ctx)})"],
            [profile.patient_ref] if profile.patient_ref else [],
            possible_only=True,
        )
    if profile.lactating:
        concerns[Concern.LACTATION] = Evidence(
            ["breastfeeding recorded"], list(profile.lactation_refs)
        )
    potential = _childbearing_potential(ctx, bool(ended))
    if potential is not None:
        concerns[Concern.CHILDBEARING_POTENTIAL] = potential

    for medicine_concern in ctx.kb.medicine_concerns:
        hit = _medicine_evidence(ctx, medicine_concern)
        if hit is not None:
            concerns.setdefault(medicine_concern.concern, Evidence()).add(*hit)
    return concerns


def _age(ctx: Context) -> str:
    age = ctx.profile.age
    return f"aged {age}" if age is not None else "age not recorded"


def _childbearing_potential(ctx: Context, ended: bool) -> Evidence | None:
    """A female (or sex unknown) of child-bearing age, not pregnant now, with no recorded
    menopause, hysterectomy or bilateral oophorectomy: she may become pregnant later, whatever
    today's pregnancy status says."""
    profile = ctx.profile
    if ended or profile.sex is Sex.MALE or profile.deceased is not None:
        return None
    if profile.pregnancy is PregnancyStatus.PREGNANT:
        return None  # the pregnancy concern says more
    if profile.age is None:
        if profile.sex is not Sex.FEMALE:
            return None
    elif not (
        ctx.m.param("childbearing-age-min") <= profile.age <= ctx.m.param("childbearing-age-max")
    ):
        return None
    status = {
        PregnancyStatus.NOT_PREGNANT: "recorded as not pregnant",
        PregnancyStatus.UNKNOWN: "pregnancy status not recorded",
    }.get(profile.pregnancy, profile.pregnancy.value)
    fact = (
        f"{profile.sex.value}, {_age(ctx)}, {status}; no menopause, hysterectomy or removal "
        "of both ovaries recorded"
    )
    refs = [profile.patient_ref] if profile.patient_ref else []
    return Evidence([fact], [*refs, *profile.pregnancy_refs])


def _medicine_evidence(ctx: Context, concern: MedicineConcern) -> tuple[str, list[str]] | None:
    """Current or unknown-status medicines matching the concern by ingredient id or name."""
    pattern = _names_pattern(concern.names)
    wanted = set(concern.ingredients)
    hits: list[MedicationFact] = []
    for med in ctx.profile.medications:
        if med.status is MedStatus.PAST:
            continue
        if (wanted & med.ingredients) or (pattern is not None and pattern.search(norm(med.text))):
            hits.append(med)
    if not hits:
        return None
    listed = listing([describe_medication(m, ctx.as_of) for m in hits])
    return f"{concern.label}: {listed}", [m.ref for m in hits]


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    return _compiled_names(tuple(names))


@lru_cache(maxsize=256)
def _compiled_names(names: tuple[str, ...]) -> re.Pattern[str] | None:
    words = sorted({norm(n) for n in names if norm(n)}, key=lambda n: (-len(n), n))
    if not words:
        return None
    return re.compile(rf"(?<![a-z0-9])(?:{'|'.join(re.escape(w) for w in words)})(?![a-z0-9])")


# ---------------------------------------------------------------------------- baselines


def _option_item(topic: BaselineTopic, fact: OptionFact) -> BaselineItem:
    return BaselineItem(
        topic=topic,
        text=fact.text.strip(),
        plain=fact.plain.strip() if fact.plain else None,
        references=list(fact.refs),
        caveat=fact.caveat.strip() if fact.caveat else None,
    )


# Baselines are the same for every patient: each is built once per knowledge-base object and
# shared (BaselineItem is frozen; callers get a new list of the same items and must not change
# an item's `references`). Keyed by id() of the object it comes from, which is kept alongside
# to check it is still the same one (an id can be reused once an object is gone); bounded.
_Key = tuple[int, tuple[str, ...]]
_BASELINES: dict[_Key, tuple[object, tuple[BaselineItem, ...]]] = {}
_BASELINES_LIMIT = 1024


def _shared_baseline(
    owner: object, key: _Key, build: Callable[[], list[BaselineItem]]
) -> list[BaselineItem]:
    cached = _BASELINES.get(key)
    if cached is None or cached[0] is not owner:
        if len(_BASELINES) >= _BASELINES_LIMIT:
            _BASELINES.clear()
        cached = _BASELINES[key] = (owner, tuple(build()))
    return list(cached[1])


def comparator_baseline(comparator: Comparator) -> list[BaselineItem]:
    """The option's evidence, key risks, screening and monitoring (the same for everyone)."""
    return _shared_baseline(
        comparator, (id(comparator), ()), lambda: _comparator_baseline(comparator)
    )


def _comparator_baseline(comparator: Comparator) -> list[BaselineItem]:
    items = [_option_item("evidence", comparator.evidence)] if comparator.evidence else []
    items += [_option_item("risk", f) for f in comparator.baseline_risks]
    items += [_option_item("screening", f) for f in comparator.screening]
    items += [_option_item("monitoring", f) for f in comparator.monitoring]
    return items


def _ldn_item(kb: KnowledgeBase, topic: BaselineTopic, fact: LdnFact) -> BaselineItem:
    refs = [r for item in fact.safety for r in kb.safety[item].refs]
    return BaselineItem(
        topic=topic,
        text=fact.text.strip(),
        plain=fact.plain.strip(),
        references=list(dict.fromkeys(refs)),
    )


def ldn_evidence(kb: KnowledgeBase, condition_ids: Sequence[str]) -> BaselineItem:
    """How good the LDN evidence is for these conditions, counted from the evidence files.

    With no condition, the count covers every condition the knowledge base holds.
    """
    if not condition_ids:
        entries = list(kb.evidence.values())
        controlled = [e for e in entries if e.design.is_controlled]
        low = sum(e.outcome is Outcome.IMPROVED and kb.possibly_low(e) for e in entries)
        text = (
            f"No condition in the record matches an LDN indication. Across "
            f"{len(kb.conditions)} conditions the knowledge base holds {len(entries)} studies "
            f"({len(controlled)} controlled); {low} reported improvement at a dose that may be "
            "low. LDN is off label for every skin condition."
        )
        plain = (
            f"LDN is not approved for any skin condition. This program holds {len(entries)} "
            f"published reports across {len(kb.conditions)} skin conditions; {low} found "
            "improvement at a dose that may be low."
        )
        refs = list(kb.drug.statement("off-label-use").refs)
        return BaselineItem(topic="evidence", text=text, plain=plain, references=refs)

    texts: list[str] = []
    plains: list[str] = []
    refs = []
    for cid in condition_ids:
        summary = kb.summarize(cid)
        name = summary.condition.name
        entries = kb.evidence_for(cid)
        controlled = [e for e in entries if e.design.is_controlled]
        controlled_low = [
            e for e in controlled if e.outcome is Outcome.IMPROVED and kb.possibly_low(e)
        ]
        refs += summary.references
        if not entries:
            texts.append(f"{name}: no LDN study in the knowledge base.")
            plains.append(f"For {name}, no published report of LDN is held here.")
            continue
        texts.append(
            f"{name}: {summary.studies} stud{'y' if summary.studies == 1 else 'ies'} "
            f"({len(controlled)} controlled); {summary.positive_possibly_low} improved at a low "
            f"(or unreported) dose, {summary.positive_higher_dose} only at higher doses; "
            f"{summary.negative_or_mixed} mixed, no benefit, no difference or worse."
        )
        plain = (
            f"For {name}: {summary.positive_possibly_low} of {summary.studies} published "
            f"report{'' if summary.studies == 1 else 's'} found improvement at a low dose; "
            f"{len(controlled)} compared it with a control group."
        )
        if not controlled_low:
            plain += (
                " No controlled trial has shown benefit at a low dose, so the evidence is weak."
            )
        else:
            plain += " The trials were small, so the evidence is limited."
        plains.append(plain)
    return BaselineItem(
        topic="evidence",
        text=" ".join(texts),
        plain=" ".join(plains),
        references=list(dict.fromkeys(refs)),
    )


def ldn_baseline(kb: KnowledgeBase, condition_ids: Sequence[str]) -> list[BaselineItem]:
    """LDN's evidence for these conditions, key risks, screening and monitoring."""
    ids = tuple(condition_ids)
    return _shared_baseline(kb, (id(kb), ids), lambda: _ldn_baseline(kb, ids))


def _ldn_baseline(kb: KnowledgeBase, condition_ids: Sequence[str]) -> list[BaselineItem]:
    option = kb.ldn_option
    return [
        ldn_evidence(kb, condition_ids),
        *(_ldn_item(kb, "risk", f) for f in option.baseline_risks),
        *(_ldn_item(kb, "screening", f) for f in option.screening),
        *(_ldn_item(kb, "monitoring", f) for f in option.monitoring),
    ]


def ldn_result(
    kb: KnowledgeBase, indications: Sequence[Indication], findings: Sequence[Finding]
) -> ComparatorResult:
    """The LDN row: its baseline for the patient's conditions, and the assessment's own
    contraindications and cautions as its flags."""
    conditions = list(dict.fromkeys(i.condition for i in indications))
    return ComparatorResult(
        therapy=LDN_ID,
        name=kb.ldn_option.name,
        kind="ldn",
        drug_class=kb.ldn_option.drug_class,
        conditions=conditions,
        baseline=ldn_baseline(kb, conditions),
        flags=[f for f in findings if f.severity is not Severity.INFO],
    )


# ---------------------------------------------------------------------------- the table


def comparator_results(ctx: Context) -> list[ComparatorResult]:
    concerns = patient_concerns(ctx)
    results: list[ComparatorResult] = []
    for comparator in ctx.kb.comparators.values():
        flags: list[Finding] = []
        for flag in comparator.flags:
            evidence = concerns.get(flag.concern)
            if evidence is None or any(c in concerns for c in flag.superseded_by):
                continue
            severity = Severity(flag.severity)
            if evidence.possible_only and severity is Severity.CONTRAINDICATED:
                severity = Severity.CAUTION  # possible, not established
            detail = [f"Patient: {listing(evidence.facts)}."]
            if evidence.possible_only:
                detail.append(evidence.possible_note)
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
        results.append(
            ComparatorResult(
                therapy=comparator.id,
                name=comparator.name,
                kind=comparator.kind,
                drug_class=comparator.drug_class,
                conditions=list(comparator.conditions),
                baseline=comparator_baseline(comparator),
                flags=flags,
            )
        )
    return results
