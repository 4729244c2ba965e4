"""Lab cut-offs as evidence of a clinical concept (eGFR below 60 for CKD, triglycerides...).

Shared by the LDN safety rules (renal impairment) and the comparator flags, so that both read
the same cut-off from terminology.yaml and say the same thing about it.
"""

from __future__ import annotations

from ldn_derm.assess.context import Context
from ldn_derm.assess.models import NotAssessed
from ldn_derm.knowledge.models import LabThreshold
from ldn_derm.patient.profile import LabFact

# concepts whose lab cut-off means something only if it lasts (KDIGO: more than 3 months)
PERSISTENT_CONCEPTS = frozenset({"ckd", "severe-kidney-impairment"})


def lab_evidence(
    ctx: Context, lab_id: str, threshold: LabThreshold
) -> tuple[str, list[str]] | None:
    """(fact, record refs) when the latest recent result of `lab_id` meets the cut-off.

    A result in a unit the cut-off is not written in is not compared: it becomes a
    not-assessed note instead (never silently passed).
    """
    recent = [x for x in ctx.recent_labs(lab_id) if x.value is not None]
    if not recent:
        return None
    latest = recent[0]
    units = {u.lower() for u in threshold.units}
    if latest.unit is not None and latest.unit.lower() not in units:
        note = unit_note(latest, threshold)
        if note not in ctx.notes:  # one lab may have several cut-offs (eGFR: 60 and 30)
            ctx.notes.append(note)
        return None
    if not meets(latest.value, threshold):
        return None
    bound = (
        f"at least {threshold.at_least:g}"
        if threshold.at_least is not None
        else f"below {threshold.below:g}"
    )
    fact = f"latest {latest.text} {latest.value:g} {latest.unit or ''}".rstrip()
    fact += f" on {when(latest)} ({bound})"
    refs = [latest.ref]
    if threshold.concept in PERSISTENT_CONCEPTS:
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
        and meets(x.value, threshold)
    ]
    if earlier:
        refs.append(earlier[0].ref)
        return f"; also on {when(earlier[0])}, so lasting over {span.days} days"
    return f"; not shown to last {span.days} days"


def meets(value: float | None, threshold: LabThreshold) -> bool:
    if value is None:
        return False
    if threshold.at_least is not None:
        return value >= threshold.at_least
    return threshold.below is not None and value < threshold.below


def when(lab: LabFact) -> str:
    return lab.effective.isoformat() if lab.effective else "an unrecorded date"


def unit_note(lab: LabFact, threshold: LabThreshold) -> NotAssessed:
    return NotAssessed(
        kind="observation",
        text=f"{lab.text} {lab.value:g} {lab.unit}",
        reason=f"unit not comparable with the cut-off ({', '.join(threshold.units)})",
        ref=lab.ref,
    )
