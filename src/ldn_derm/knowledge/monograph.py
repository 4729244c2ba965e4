"""Assemble the LDN monograph: drug.yaml sections, with safety.yaml items filed under them.

Safety facts live once, in safety.yaml; the monograph only arranges them in the order a drug
reference uses (use, dosing, contraindications, warnings, adverse effects, interactions...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ldn_derm.knowledge.base import KnowledgeBase
from ldn_derm.knowledge.models import SafetyKind

SECTION_ORDER = [
    ("use", "Use"),
    ("dosing", "Dosing and administration"),
    ("contraindications", "Contraindications"),
    ("warnings", "Warnings and precautions"),
    ("adverse-effects", "Adverse effects"),
    ("interactions", "Interactions"),
    ("monitoring", "Monitoring"),
    ("pregnancy-lactation", "Pregnancy and lactation"),
    ("mechanism", "Mechanism of action"),
    ("pharmacokinetics", "Pharmacokinetics"),
    ("counselling", "Patient counselling"),
    ("how-supplied", "How supplied"),
    ("cost", "Cost and coverage"),
]

SAFETY_SECTION = {
    SafetyKind.CONTRAINDICATION: "contraindications",
    SafetyKind.CAUTION: "warnings",
    SafetyKind.ADVERSE_EFFECT: "adverse-effects",
    SafetyKind.INTERACTION: "interactions",
    SafetyKind.MONITORING: "monitoring",
}


@dataclass
class MonographItem:
    text: str
    refs: list[str]
    certainty: str
    caveat: str | None = None
    frequency: str | None = None
    title: str | None = None
    source_id: str | None = None  # safety item id, when the item comes from safety.yaml


@dataclass
class MonographSection:
    id: str
    title: str
    items: list[MonographItem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def monograph_sections(kb: KnowledgeBase) -> list[MonographSection]:
    titles = dict(SECTION_ORDER)
    sections: dict[str, MonographSection] = {}
    for sec in kb.drug.sections:
        sections[sec.id] = MonographSection(
            sec.id,
            sec.title,
            [
                MonographItem(s.text, list(s.refs), s.certainty.value, s.caveat)
                for s in sec.statements
            ],
        )
    for item in kb.safety.values():
        sid = item.section or SAFETY_SECTION[item.kind]
        section = sections.setdefault(sid, MonographSection(sid, titles.get(sid, sid)))
        freq = "; ".join(f.text for f in item.frequency) or None
        section.items.append(
            MonographItem(
                f"{item.title}: {item.text}",
                list(item.refs),
                item.certainty.value,
                item.caveat,
                freq,
                item.title,
                item.id,
            )
        )
    rank = {sid: i for i, (sid, _) in enumerate(SECTION_ORDER)}
    return sorted(sections.values(), key=lambda s: rank.get(s.id, len(rank)))


# The article's questions ("The Lowdown on Low-Dose Naltrexone", Cutis: what it is, how it
# works, when to use it, how to prescribe, how to monitor and side effects, and how it compares)
# and the monograph sections that answer each. Every section's statements carry their own refs.
QUESTIONS = [
    ("what", "What is low-dose naltrexone?", ("use", "how-supplied")),
    ("how-it-works", "How does it work?", ("mechanism", "pharmacokinetics")),
    ("when", "When should it be used?", ()),  # the evidence by condition answers it
    ("prescribe", "How is it prescribed?", ("dosing", "counselling", "cost")),
    (
        "safety",
        "What are its side effects, and how is it monitored?",
        (
            "adverse-effects",
            "monitoring",
            "contraindications",
            "warnings",
            "interactions",
            "pregnancy-lactation",
        ),
    ),
    ("compare", "How does it compare with other systemic treatments?", ()),
]


@dataclass
class MonographQuestion:
    id: str
    question: str
    sections: list[MonographSection]


def monograph_questions(kb: KnowledgeBase) -> list[MonographQuestion]:
    """The monograph's sections grouped under the article's questions, each section once.

    "When" is answered by the evidence by condition and "compare" by the comparison table
    (comparators.yaml); their section lists are empty here.
    """
    by_id = {s.id: s for s in monograph_sections(kb)}
    out = [
        MonographQuestion(qid, text, [by_id[s] for s in ids if s in by_id])
        for qid, text, ids in QUESTIONS
    ]
    placed = {s for _, _, ids in QUESTIONS for s in ids}
    rest = [s for sid, s in by_id.items() if sid not in placed]
    if rest:  # a section added to drug.yaml later is still shown, under "what"
        out[0].sections.extend(rest)
    return out
