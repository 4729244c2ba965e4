"""Checks a prescription must pass or override: the indication's evidence, the opioid-free start.

Both are pure functions of the knowledge base, the condition, the patient context and the
start date; `build_prescription` turns a failed check into a refusal unless the prescriber
recorded an override for that option (see `overrides.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from ldn_derm.errors import KnowledgeError

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.models import Condition


class EvidenceLevel(StrEnum):
    """What the knowledge base holds for LDN in a condition (weakest last)."""

    SUPPORTED = "supported"  # at least one study improved at a low (or unreported) dose
    # a controlled study at a dose that may be low was negative: it outweighs uncontrolled
    # reports of improvement (the assessment's indication-evidence-negative-controlled)
    NEGATIVE_CONTROLLED = "negative-controlled"
    HIGHER_DOSE_ONLY = "higher-dose-only"  # improvement only above the low-dose range
    NO_IMPROVEMENT = "no-improvement"  # studies, none reporting improvement
    NO_STUDY = "no-study"  # no study at all

    @property
    def needs_acknowledgment(self) -> bool:
        return self is not EvidenceLevel.SUPPORTED


@dataclass(frozen=True)
class EvidenceStatus:
    level: EvidenceLevel
    text: str  # one line for the prescription
    refs: tuple[str, ...]


def evidence_status(cond: Condition, kb: KnowledgeBase) -> EvidenceStatus:
    """The condition's LDN evidence in one line, from the evidence table."""
    summary = kb.summarize(cond.id)
    refs = tuple(summary.references)
    low = kb.drug.canonical_low_dose.label()
    if summary.studies == 0:
        return EvidenceStatus(
            EvidenceLevel.NO_STUDY,
            f"No study of naltrexone in {cond.name} is in the knowledge base: use without "
            "published evidence.",
            (),
        )
    if summary.positive == 0:
        return EvidenceStatus(
            EvidenceLevel.NO_IMPROVEMENT,
            f"No study of naltrexone in {cond.name} reported improvement ({summary.line()}).",
            refs,
        )
    if summary.negative_controlled_low:
        trials = [kb.evidence[i] for i in summary.negative_controlled_low]
        described = "; ".join(
            f"{e.study} ({e.design.value}, {e.dose.label() if e.dose else 'dose not reported'}"
            f"{', added to ' + e.add_on_to if e.add_on_to else ''}): {e.outcome.value}"
            for e in trials
        )
        return EvidenceStatus(
            EvidenceLevel.NEGATIVE_CONTROLLED,
            f"The controlled evidence for LDN in {cond.name} is negative ({described}); "
            f"uncontrolled reports of improvement do not outweigh it ({summary.line()}).",
            refs,
        )
    if summary.positive_possibly_low == 0:
        doses = ", ".join(summary.higher_dose_positive_doses)
        return EvidenceStatus(
            EvidenceLevel.HIGHER_DOSE_ONLY,
            f"Improvement in {cond.name} was reported only at higher doses ({doses}), not in "
            f"the low-dose range ({low}); this evidence does not support LDN "
            f"({summary.line()}).",
            refs,
        )
    return EvidenceStatus(
        EvidenceLevel.SUPPORTED,
        f"{summary.positive_possibly_low} stud"
        f"{'y' if summary.positive_possibly_low == 1 else 'ies'} reported improvement at a low "
        f"or unreported dose ({summary.line()}).",
        refs,
    )


@dataclass(frozen=True)
class RecentOpioid:
    """A stopped opioid from the assessment's `opioid-recent` finding."""

    text: str
    ref: str
    last_date: date | None  # the recorded end (or the order date when the end is unknown)
    end_known: bool


@dataclass(frozen=True)
class OpioidWindow:
    """A start date inside the opioid-free interval after the last recorded opioid."""

    message: str
    last: RecentOpioid
    earliest_start: date | None  # None: no end date recorded, so it cannot be computed
    refs: tuple[str, ...]


def opioid_free_days(kb: KnowledgeBase) -> tuple[int, tuple[str, ...]]:
    for p in kb.terminology.parameters:
        if p.id == "opioid-free-days":
            return int(p.value), tuple(p.refs)
    raise KnowledgeError("terminology.yaml: parameter 'opioid-free-days' is missing")


def opioid_window(
    recent: tuple[RecentOpioid, ...], start: date, kb: KnowledgeBase
) -> OpioidWindow | None:
    """The window the start date falls into, or None when it lies outside every window.

    A start is allowed only after `opioid-free-days` full days without the opioid (the last
    recorded day + the interval + 1 day). An opioid whose end was not recorded cannot be
    counted from, so it always needs an override (fail closed).
    """
    days, refs = opioid_free_days(kb)
    safety = kb.safety.get("opioid-free-interval")
    refs = tuple(dict.fromkeys((*refs, *(safety.refs if safety else ()))))
    undated = [m for m in recent if not m.end_known or m.last_date is None]
    dated = [m for m in recent if m.end_known and m.last_date is not None]
    if dated:
        last = max(dated, key=lambda m: m.last_date or date.min)
        assert last.last_date is not None
        earliest = last.last_date + timedelta(days=days + 1)
        if start < earliest:
            return OpioidWindow(
                message=(
                    f"start date {start.isoformat()} is inside the {days}-day opioid-free "
                    f"interval: the last opioid, {last.text} ({last.ref}), ended "
                    f"{last.last_date.isoformat()}; the earliest allowed start date is "
                    f"{earliest.isoformat()}"
                ),
                last=last,
                earliest_start=earliest,
                refs=refs,
            )
    if undated:
        last = undated[0]
        when = (
            f"ordered {last.last_date.isoformat()}, stop date not recorded"
            if last.last_date
            else "no date recorded"
        )
        return OpioidWindow(
            message=(
                f"the opioid-free interval ({days} days) cannot be checked for start date "
                f"{start.isoformat()}: {last.text} ({last.ref}) stopped recently ({when}), so "
                "no earliest allowed start date can be computed; record the stop date"
            ),
            last=last,
            earliest_start=None,
            refs=refs,
        )
    return None
