"""The rules name safety items, parameters, concepts and labs by id: all must exist in the KB.

The ids are read from the rule sources, so a renamed YAML id fails here rather than in use.
"""

from __future__ import annotations

import re
from pathlib import Path

from ldn_derm.knowledge import KnowledgeBase

SRC = Path(__file__).resolve().parents[2] / "src" / "ldn_derm"
SOURCES = "\n".join(
    p.read_text(encoding="utf-8")
    for folder in ("assess", "patient")
    for p in sorted((SRC / folder).glob("*.py"))
)


def _ids(pattern: str) -> set[str]:
    return set(re.findall(pattern, SOURCES))


def test_safety_items_used_by_rules_exist(kb: KnowledgeBase) -> None:
    lists = re.findall(r"Severity\.[A-Z]+,\s*\[([^\]]*)\]", SOURCES)
    used = {item for lst in lists for item in re.findall(r'"([a-z0-9-]+)"', lst)}
    assert {"opioid-analgesics", "opioid-dependence", "opioid-free-interval"} <= used
    assert used <= set(kb.safety), sorted(used - set(kb.safety))


def test_parameters_used_by_rules_exist(kb: KnowledgeBase) -> None:
    used = _ids(r'(?:param|days)\(\s*"([a-z0-9-]+)"')
    assert "opioid-free-days" in used
    known = {p.id for p in kb.terminology.parameters}
    assert used <= known, sorted(used - known)


def test_concepts_used_by_rules_exist(kb: KnowledgeBase) -> None:
    used = _ids(r'conditions_with\(\s*"([a-z0-9-]+)"') | {"opioid-use-disorder-remission"}
    known = {c.id for c in kb.terminology.concepts}
    assert used <= known, sorted(used - known)


def test_labs_used_by_rules_exist(kb: KnowledgeBase) -> None:
    used = _ids(r'(?:labs_of|recent_labs)\(\s*"([a-z0-9-]+)"') | {
        "alt",
        "ast",
        "hcg-urine",
        "pregnancy-status",
    }
    known = {lab.id for lab in kb.terminology.labs}
    assert used <= known, sorted(used - known)


def test_classes_used_by_rules_are_carried_by_some_drug(kb: KnowledgeBase) -> None:
    used = _ids(r'"((?:opioid|peripheral|immuno|thyroid|anti)[a-z-]*)" (?:in|not in) m\.classes')
    used |= {"thyroid-hormone", "antithyroid"}
    carried = {c for i in kb.terminology.ingredients for c in i.classes}
    carried |= {c for p in kb.terminology.products for c in p.classes}
    assert used <= carried, sorted(used - carried)


def test_every_concern_has_a_concept(kb: KnowledgeBase) -> None:
    from ldn_derm.knowledge.models import Concern

    covered = {c.concern for c in kb.terminology.concepts if c.concern is not None}
    covered |= {m.concern for m in kb.medicine_concerns}  # current medicines
    # derived by the comparator rules from sex, age and pregnancy status, and from ALT/AST
    covered |= {Concern.CHILDBEARING_POTENTIAL, Concern.ABNORMAL_LIVER_TESTS}
    assert set(Concern) == covered


def test_loperamide_decision_is_recorded_and_cited(kb: KnowledgeBase) -> None:
    decision = next(d for d in kb.terminology.decisions if "operamide" in d.text)
    assert decision.refs and all(r in kb.references for r in decision.refs)
    loperamide = next(i for i in kb.terminology.ingredients if i.id == "loperamide")
    assert "opioid" not in loperamide.classes
