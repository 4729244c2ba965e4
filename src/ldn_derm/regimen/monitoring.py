"""The monitoring plan: what to ask about, what to test, how to judge response, how to stop.

Everything is assembled from the knowledge base (safety items by id, the evidence table for
the condition) so each line carries its references; nothing clinical is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import KnowledgeError
from ldn_derm.knowledge.citations import Citations, reference_line

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.models import RuleParameter, SafetyItem
    from ldn_derm.regimen.schedule import Regimen

SIDE_EFFECT_IDS = ("vivid-dreams", "gi-upset", "headache-anxiety", "self-limited")
THYROID_IDS = ("tsh-screening", "thyroid-disease")
OPIOID_IDS = ("opioid-interactions", "overcoming-blockade", "perioperative-opioids")
HOLD_PARAMETER = "perioperative-hold-days"  # terminology.yaml rule parameter (cited)
HOLD_ITEM = "perioperative-hold"
STOPPING_ID = "stopping"


@dataclass(frozen=True)
class MonitorItem:
    id: str
    title: str
    text: str
    refs: tuple[str, ...]
    certainty: str
    frequency: str | None = None
    caveat: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "frequency": self.frequency,
            "caveat": self.caveat,
            "certainty": self.certainty,
            "references": list(self.refs),
        }


@dataclass(frozen=True)
class ResponseTime:
    study: str
    time_to_response: str
    dose: str | None
    outcome: str
    refs: tuple[str, ...]
    dose_class: str = "unknown"  # low / intermediate / standard / unknown (knowledge base)


@dataclass(frozen=True)
class MonitoringPlan:
    condition_id: str
    condition_name: str
    side_effects: tuple[MonitorItem, ...]
    thyroid: tuple[MonitorItem, ...]
    opioids: tuple[MonitorItem, ...]
    stopping: MonitorItem
    follow_up: tuple[MonitorItem, ...]
    outcome_measures: tuple[tuple[str, tuple[str, ...]], ...]  # (measure, studies)
    response_times: tuple[ResponseTime, ...]
    thyroid_disease_known: bool | None = None  # None: no patient record was given

    @property
    def refs(self) -> tuple[str, ...]:
        items = (*self.side_effects, *self.thyroid, *self.opioids, self.stopping, *self.follow_up)
        out = [r for item in items for r in item.refs]
        out += [r for rt in self.response_times for r in rt.refs]
        return tuple(dict.fromkeys(out))

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition_id,
            "side_effects": [i.to_dict() for i in self.side_effects],
            "thyroid": [i.to_dict() for i in self.thyroid],
            "thyroid_disease_known": self.thyroid_disease_known,
            "opioids": [i.to_dict() for i in self.opioids],
            "stopping": self.stopping.to_dict(),
            "follow_up": [i.to_dict() for i in self.follow_up],
            "outcome_measures": [
                {"measure": m, "studies": list(s)} for m, s in self.outcome_measures
            ],
            "response_times": [
                {
                    "study": r.study,
                    "time_to_response": r.time_to_response,
                    "dose": r.dose,
                    "outcome": r.outcome,
                    "dose_class": r.dose_class,
                    "references": list(r.refs),
                }
                for r in self.response_times
            ],
            "references": list(self.refs),
        }

    def markdown(self, kb: KnowledgeBase) -> str:
        """monitoring.md: the plan with numbered references."""
        citations = Citations()
        cite = citations.mark

        def item(i: MonitorItem) -> str:
            line = f"- **{i.title}.** {i.text}"
            if i.frequency:
                line += f" Reported frequency: {i.frequency}."
            line += cite(i.refs)
            if i.caveat:
                line += f"\n  - *Caveat:* {i.caveat}"
            return line

        out = [f"# Monitoring plan: LDN for {self.condition_name}", ""]
        out += ["## Side effects to ask about", *(item(i) for i in self.side_effects), ""]
        out += ["## Thyroid", *(item(i) for i in self.thyroid)]
        if self.thyroid_disease_known:
            out.append(
                "- The patient record lists thyroid disease: follow the thyroid-disease advice."
            )
        out += ["", "## Opioids, procedures and pain medicine", *(item(i) for i in self.opioids)]
        out += ["", "## Follow-up visits", *(item(i) for i in self.follow_up), ""]
        out += ["## Outcome measures used in the evidence for this condition"]
        if self.outcome_measures:
            out += [f"- {m} (used in: {', '.join(s)})" for m, s in self.outcome_measures]
        else:
            out.append(
                "- No study of this condition in the knowledge base names an outcome measure."
            )
        out += ["", "## When to judge response (time to response as reported)"]
        if self.response_times:
            for r in self.response_times:
                dose = f", {r.dose}" if r.dose else ""
                out.append(f"- {r.study}{dose}: {r.time_to_response}{cite(r.refs)}")
        else:
            out.append(
                "- No time to response is reported for this condition in the knowledge base."
            )
        out += ["", "## Stopping", item(self.stopping), "", "## References"]
        for n, ref_id in enumerate(citations.order, start=1):
            ref = kb.references[ref_id]
            out.append(f"{n}. {reference_line(ref)}")
        return "\n".join(out) + "\n"


def _item(kb: KnowledgeBase, ident: str) -> MonitorItem:
    safety = kb.safety.get(ident)
    if safety is None:
        raise KnowledgeError(f"safety.yaml: the monitoring plan needs safety item '{ident}'")
    return from_safety(safety)


def from_safety(s: SafetyItem) -> MonitorItem:
    freq = "; ".join(f.text + (f" ({f.population})" if f.population else "") for f in s.frequency)
    return MonitorItem(
        id=s.id,
        title=s.title,
        text=s.text,
        refs=tuple(s.refs),
        certainty=s.certainty.value,
        frequency=freq or None,
        caveat=s.caveat,
    )


def hold_parameter(kb: KnowledgeBase) -> RuleParameter:
    """The cited perioperative hold (days) for standard-dose oral naltrexone."""
    for param in kb.terminology.parameters:
        if param.id == HOLD_PARAMETER:
            return param
    raise KnowledgeError(
        f"terminology.yaml: the monitoring plan needs parameter '{HOLD_PARAMETER}'"
    )


def perioperative_hold(kb: KnowledgeBase) -> MonitorItem:
    """'Before planned surgery': the hold time, said to be standard-dose guidance."""
    param = hold_parameter(kb)
    periop = kb.safety.get("perioperative-opioids")
    caveat = param.basis.strip()
    if periop is not None and periop.caveat:
        caveat += " " + periop.caveat.strip()
    return MonitorItem(
        id=HOLD_ITEM,
        title="Before planned surgery",
        text=(
            f"Anaesthesia guidance for standard-dose oral naltrexone is to stop it "
            f"{param.value * 24:g} hours ({param.value:g} days) before elective surgery when "
            "opioid analgesia is expected. No LDN-specific hold time was found: agree the "
            "hold, and when to restart, with the surgical and anaesthesia team."
        ),
        refs=tuple(param.refs),
        certainty=param.certainty.value if param.certainty else "convention",
        caveat=caveat,
    )


def build_monitoring_plan(
    condition: str,
    regimen: Regimen | None = None,
    *,
    thyroid_disease: bool | None = None,
    kb: KnowledgeBase | None = None,
) -> MonitoringPlan:
    """Monitoring for LDN in `condition` (id, name or code), from the knowledge base."""
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    cond = kb.find_condition(condition)
    entries = kb.evidence_for(cond.id)

    measures: dict[str, list[str]] = {}
    for e in entries:
        for m in e.measures:
            key = m.strip()
            studies = measures.setdefault(key, [])
            if e.study not in studies:
                studies.append(e.study)
    times = tuple(
        ResponseTime(
            study=e.study,
            time_to_response=e.time_to_response,
            dose=e.dose.label() if e.dose else None,
            outcome=e.outcome.value,
            refs=tuple(e.refs),
            dose_class=kb.dose_class(e),
        )
        for e in entries
        if e.time_to_response
    )
    follow_up: list[MonitorItem] = []
    # only a source about this condition says how often to follow it up: never borrowed
    reported = [p for p in kb.protocols.protocols if p.follow_up and cond.id in p.conditions]
    for proto in reported:
        follow_up.append(
            MonitorItem(
                id=f"follow-up-{proto.id}",
                title="Follow-up",
                text=f"Follow-up {proto.follow_up}, as in the {proto.name} scheme.",
                refs=tuple(proto.refs),
                certainty=proto.certainty.value,
                caveat=proto.caveat,
            )
        )
    if not reported:
        follow_up.append(
            MonitorItem(
                id="follow-up-not-established",
                title="Follow-up",
                text=" ".join(kb.protocols.follow_up_not_established.split()),
                refs=(),
                certainty="not-established",
            )
        )
    return MonitoringPlan(
        condition_id=cond.id,
        condition_name=cond.name,
        side_effects=tuple(_item(kb, i) for i in SIDE_EFFECT_IDS),
        thyroid=tuple(_item(kb, i) for i in THYROID_IDS),
        opioids=(*(_item(kb, i) for i in OPIOID_IDS), perioperative_hold(kb)),
        stopping=_item(kb, STOPPING_ID),
        follow_up=tuple(follow_up),
        outcome_measures=tuple((m, tuple(s)) for m, s in measures.items()),
        response_times=times,
        thyroid_disease_known=thyroid_disease,
    )
