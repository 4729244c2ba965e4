"""What every rule needs: the profile, the knowledge base, and a way to word a finding.

Rules decide *whether* something applies and *how severe* it is (logic, in Python). What it
*means* clinically, and the references, come from safety items in the knowledge base, looked up
by their stable ids; a missing item is a knowledge-base error, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from ldn_derm.assess.models import Finding, NotAssessed, Severity
from ldn_derm.errors import KnowledgeError
from ldn_derm.knowledge import KnowledgeBase
from ldn_derm.knowledge.models import SafetyItem
from ldn_derm.patient.profile import LabFact, MedicationFact, MedStatus, PatientProfile
from ldn_derm.patient.terminology import Matcher


@dataclass
class Context:
    profile: PatientProfile
    kb: KnowledgeBase
    m: Matcher
    notes: list[NotAssessed] = field(default_factory=list)

    @property
    def as_of(self) -> date:
        return self.profile.as_of

    def days(self, parameter: str) -> timedelta:
        return timedelta(days=self.m.param(parameter))

    def safety(self, ident: str) -> SafetyItem:
        try:
            return self.kb.safety[ident]
        except KeyError:
            raise KnowledgeError(
                f"safety.yaml has no item '{ident}', which the assessment rules need"
            ) from None

    def finding(
        self,
        code: str,
        severity: Severity,
        safety_ids: Sequence[str],
        fact: str,
        triggered_by: Sequence[str],
        note: str | None = None,
    ) -> Finding:
        """A finding worded from safety items: '<title of the first item> — <patient fact>'."""
        items = [self.safety(i) for i in safety_ids]
        lead = items[0]
        sentence = fact.rstrip(".")
        detail = [sentence[:1].upper() + sentence[1:] + "."]  # the fact opens the detail
        if note:
            detail.append(note)
        for item in items:
            detail.append(item.text.strip())
            if item.caveat:
                detail.append(f"Caveat: {item.caveat.strip()}")
        refs = list(dict.fromkeys(r for item in items for r in item.refs))
        return Finding(
            code=code,
            severity=severity,
            summary=f"{lead.title} — {fact}",
            detail=" ".join(detail),
            triggered_by=list(dict.fromkeys(triggered_by)),
            references=refs,
        )

    def recent_labs(self, lab: str) -> list[LabFact]:
        """Results of `lab` within the lab-recent window, newest first."""
        since = self.as_of - self.days("lab-recent-days")
        return [x for x in self.profile.labs_of(lab) if x.effective and x.effective >= since]


def describe_medication(med: MedicationFact, as_of: date) -> str:
    """'Percocet (active order, 2026-11-20)' style label."""
    when = ""
    if med.status is MedStatus.PAST and med.last_date:
        label = "ended" if med.end_known else "ordered"
        when = f", {label} {med.last_date.isoformat()}"
    elif med.start:
        when = f", since {med.start.isoformat()}"
    status = med.raw_status or "status not recorded"
    return f"{med.text} ({status}{when})"


def listing(items: Sequence[str], limit: int = 3) -> str:
    shown = list(items[:limit])
    more = len(items) - limit
    text = "; ".join(shown)
    return f"{text}; and {more} more" if more > 0 else text
