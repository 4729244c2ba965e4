"""Knowledge-base objects as plain JSON-ready dicts, shared by the REST API and the pages."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.knowledge.models import EvidenceEntry, Reference, as_data

# how the knowledge base's `certainty` field says a fact was read: its provenance, not a
# certainty of evidence in the GRADE sense (shown as "source read")
PROVENANCE = {
    "seen-article": "article",
    "seen-abstract": "abstract",
    "seen-label": "drug label",
    "secondary": "secondary source",
    "recalled": "recalled, unverified",
    "derived": "derived (calculation)",
}


def reference_text(ref: Reference) -> str:
    """Vancouver-like one-line citation; the link is shown beside it, so no PMID or DOI."""
    return ref.vancouver(include_doi=False, include_pmid=False) + "."


def reference_link(ref: Reference) -> str | None:
    return ref.link()


def reference_dict(ref: Reference) -> dict[str, Any]:
    data: dict[str, Any] = as_data(ref)
    data["text"] = reference_text(ref)
    data["link"] = reference_link(ref)
    data["provenance"] = PROVENANCE.get(ref.certainty.value, ref.certainty.value)
    return data


def evidence_dict(kb: KnowledgeBase, e: EvidenceEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "condition": e.condition,
        "study": e.study,
        "design": e.design.value,
        "n": e.n,
        "dose": e.dose.label() if e.dose else None,
        "dose_low_mg_per_day": e.dose.low if e.dose else None,
        "dose_high_mg_per_day": e.dose.high if e.dose else None,
        "dose_class": kb.dose_class(e),
        "dose_note": e.dose_note,
        "duration": e.duration,
        "outcome": e.outcome.value,
        "effect": e.effect,
        "measures": list(e.measures),
        "time_to_response": e.time_to_response,
        "adverse_events": e.adverse_events,
        "add_on_to": e.add_on_to,
        "conflicts": e.conflicts,
        "certainty": e.certainty.value,
        "references": list(e.refs),
    }


def condition_summary(kb: KnowledgeBase, condition_id: str) -> dict[str, Any]:
    s = kb.summarize(condition_id)
    c = s.condition
    return {
        "id": c.id,
        "name": c.name,
        "group": c.group,
        "icd10cm": [x.code for x in c.icd10cm],
        "snomed": [x.code for x in c.snomed],
        "studies": s.studies,
        "improved": s.positive,
        "improved_low_dose": s.positive_possibly_low,
        "improved_higher_dose_only": s.positive_higher_dose,
        "mixed_or_no_benefit": s.negative_or_mixed,
        "negative_controlled_low_dose": list(s.negative_controlled_low),
        "low_dose_studies": s.low_dose_studies,
        "doses": s.doses_mg_per_day,
        "summary": s.line(),
        "note": c.note,
    }


@lru_cache(maxsize=1)
def conditions_with_evidence() -> tuple[str, ...]:
    kb = get_knowledge()
    return tuple(cid for cid in kb.conditions if kb.evidence_for(cid))


def evidence_page(kb: KnowledgeBase, condition_id: str) -> dict[str, Any]:
    entries = kb.evidence_for(condition_id)
    ref_ids = sorted({r for e in entries for r in e.refs})
    return {
        "condition": condition_summary(kb, condition_id),
        "evidence": [evidence_dict(kb, e) for e in entries],
        "references": [reference_dict(kb.references[r]) for r in ref_ids],
        "low_dose": kb.drug.canonical_low_dose.label(),
        "low_dose_high": kb.drug.canonical_low_dose.high,
    }
