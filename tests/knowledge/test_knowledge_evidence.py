"""The evidence part of the knowledge base: coverage, codes, doses, conflicts, broken copies."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import simple_icd_10_cm as cm
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ldn_derm.errors import KnowledgeError, UnknownConditionError
from ldn_derm.knowledge import DATA_DIR, KnowledgeBase, get_knowledge, load
from ldn_derm.knowledge.loader import validate
from ldn_derm.knowledge.models import (
    Certainty,
    Design,
    DoseRange,
    EvidenceEntry,
    Outcome,
    Reference,
)

REVIEWS = {Design.SYSTEMATIC_REVIEW, Design.NARRATIVE_REVIEW}
ICD_CHECKER = f"simple-icd-10-cm {version('simple-icd-10-cm')}"
# The only SNOMED CT concepts STANDARDS.md 4.3 offers (none verified in a SNOMED browser).
STANDARDS_SNOMED = {"9014002", "418290006", "709044004", "46177005", "24079001"}
# How firmly a fact was read; an entry may not claim more than its sources give.
STRENGTH = {
    Certainty.SEEN_ARTICLE: 4,
    Certainty.SEEN_ABSTRACT: 3,
    Certainty.SEEN_LABEL: 3,
    Certainty.DERIVED: 2,
    Certainty.SECONDARY: 1,
    Certainty.RECALLED: 0,
}
ENTRY_MENTION = re.compile(r"\(entr(?:y|ies) ([^)]*)\)")
ENTRY_ID = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+){2,}\b")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return get_knowledge()


def _raw_evidence() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted((DATA_DIR / "evidence").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["evidence"]:
            out.append((path, item))
    return out


# ---------------------------------------------------------------- the shipped base


def test_shipped_base_loads_with_every_evidence_file(kb: KnowledgeBase) -> None:
    raw_ids = {item["id"] for _, item in _raw_evidence()}
    assert raw_ids == set(kb.evidence)
    assert all(e.condition in kb.conditions for e in kb.evidence.values())


def test_coverage_bar(kb: KnowledgeBase) -> None:
    entries = list(kb.evidence.values())
    studies = [e for e in entries if e.design not in REVIEWS]
    assert len(studies) >= 25
    assert len({e.condition for e in studies}) >= 8
    assert sum(e.outcome is not Outcome.IMPROVED for e in studies) >= 4
    assert {Outcome.NO_BENEFIT, Outcome.MIXED} <= {e.outcome for e in studies}


def test_every_entry_certainty_is_backed_by_a_source(kb: KnowledgeBase) -> None:
    for entry in kb.evidence.values():
        best = max(STRENGTH[kb.references[r].certainty] for r in entry.refs)
        assert STRENGTH[entry.certainty] <= best, entry.id


def test_evidence_references_are_cited_by_evidence(kb: KnowledgeBase) -> None:
    own = yaml.safe_load((DATA_DIR / "references" / "evidence.yaml").read_text())["references"]
    cited = {r for e in kb.evidence.values() for r in e.refs}
    fields = {f.name for f in dataclasses.fields(Reference)}
    for ref in own:
        assert ref["id"] in cited, ref["id"]
        assert set(ref.get("unverified", [])) <= fields, ref["id"]


# ---------------------------------------------------------------- codes


def test_verified_icd10cm_codes_exist_in_the_bundled_tabular(kb: KnowledgeBase) -> None:
    checked = 0
    for cond in kb.conditions.values():
        for coding in cond.icd10cm:
            where = f"{cond.id} {coding.code}"
            source = coding.source or ""
            if coding.legacy:  # an older release: the bundled tabular cannot confirm it
                assert not coding.verified, where
                assert "older" in source.lower(), where
                continue
            assert coding.verified, where
            assert cm.is_valid_item(coding.code), where
            assert coding.display == cm.get_description(coding.code), where
            assert ICD_CHECKER in source and "April 1 2026" in source, where
            assert ("header" in source) == (not cm.is_leaf(coding.code)), where
            checked += 1
    assert checked >= 20


def test_lichen_planopilaris_has_old_and_new_codes(kb: KnowledgeBase) -> None:
    codings = kb.conditions["lichen-planopilaris"].icd10cm
    current = {c.code for c in codings if not c.legacy}
    legacy = [c for c in codings if c.legacy]
    assert set(cm.get_children("L66.1")) | {"L66.1"} == current
    assert [c.code for c in legacy] == ["L66.1"]
    assert "leaf" in (legacy[0].source or "")
    assert kb.find_condition("frontal fibrosing alopecia").id == "lichen-planopilaris"
    assert kb.find_condition("L66.12").id == "lichen-planopilaris"


def test_shared_q82_8_is_flagged_and_never_picks_one(kb: KnowledgeBase) -> None:
    inclusion = cm.get_inclusion_term("Q82.8")
    for cid, term in [
        ("hailey-hailey-disease", "Benign familial pemphigus [Hailey-Hailey]"),
        ("darier-disease", "Keratosis follicularis [Darier-White]"),
    ]:
        (coding,) = kb.conditions[cid].icd10cm
        assert coding.code == "Q82.8"
        assert term in inclusion and term in (coding.source or "")
        assert "NOT specific" in (coding.source or "")
    with pytest.raises(UnknownConditionError, match="several conditions"):
        kb.find_condition("Q82.8")


def test_itch_of_another_disease_carries_no_code_and_says_why(kb: KnowledgeBase) -> None:
    for cid in ("uremic-pruritus", "systemic-sclerosis-pruritus", "mycosis-fungoides-pruritus"):
        cond = kb.conditions[cid]
        assert cond.icd10cm == [], cid
        assert "no dedicated" in (cond.note or "").lower(), cid


def test_snomed_codes_come_from_standards_and_are_unverified(kb: KnowledgeBase) -> None:
    codings = [c for cond in kb.conditions.values() for c in cond.snomed]
    assert codings
    for coding in codings:
        assert coding.code in STANDARDS_SNOMED
        assert not coding.verified
        assert "STANDARDS.md 4.3" in (coding.source or "")
        assert "confidence" in (coding.source or "")


def test_every_text_alias_finds_its_own_condition(kb: KnowledgeBase) -> None:
    for cond in kb.conditions.values():
        assert cond.text, cond.id
        for alias in cond.text:
            assert kb.find_condition(alias).id == cond.id, alias
    expected = {
        "Hailey-Hailey": "hailey-hailey-disease",
        "benign familial pemphigus": "hailey-hailey-disease",
        "LPP": "lichen-planopilaris",
        "lichen planus": "lichen-planus",
        "uraemic pruritus": "uremic-pruritus",
    }
    for query, cid in expected.items():
        assert kb.find_condition(query).id == cid


# ---------------------------------------------------------------- doses


def test_every_dose_is_in_mg_per_day_in_the_files_as_written() -> None:
    doses = [(p.name, item["id"], item["dose"]) for p, item in _raw_evidence() if item["dose"]]
    assert len(doses) >= 15
    for name, ident, dose in doses:
        assert dose["unit"] == "mg/day", f"{name} {ident}"


def test_missing_and_recalled_doses_are_explained_not_given(kb: KnowledgeBase) -> None:
    for entry in kb.evidence.values():
        assert entry.dose is None or entry.dose.unit == "mg/day"
        if entry.dose is None:
            assert entry.dose_note, entry.id
        if "recalled" in (entry.dose_note or ""):
            assert entry.dose is None, f"{entry.id}: a recalled dose is given as a dose"
    frech = kb.evidence["frech-2011-systemic-sclerosis-pruritus"]
    assert frech.dose is None and "unverified" in (frech.dose_note or "")


# ---------------------------------------------------------------- conflicts


def test_conflict_cross_references_name_real_entries(kb: KnowledgeBase) -> None:
    mentioned = 0
    for entry in kb.evidence.values():
        for group in ENTRY_MENTION.findall(entry.conflicts or ""):
            for ident in ENTRY_ID.findall(group):
                assert ident in kb.evidence, f"{entry.id} mentions unknown entry {ident}"
                assert ident != entry.id
                mentioned += 1
    assert mentioned >= 10


def test_uremic_pruritus_trials_are_labelled_as_they_found_and_the_cutis_claim_kept(
    kb: KnowledgeBase,
) -> None:
    """Issue 14: the positive 50 mg trial is present, the placebo-controlled null trial is 'no
    benefit', the loratadine trial is 'no difference from an active comparator' (not 'no
    benefit'), and none of it counts as LDN evidence."""
    entries = {e.id: e for e in kb.evidence_for("uremic-pruritus")}
    expected = {
        "peer-1996-uremic-pruritus": Outcome.IMPROVED,
        "pauli-magnus-2000-uremic-pruritus": Outcome.NO_BENEFIT,
        "loratadine-2004-uremic-pruritus": Outcome.NO_DIFFERENCE,
    }
    cutis = entries["cutis-lowdown-uremic-pruritus"]
    for ident, outcome in expected.items():
        trial = entries[ident]
        assert trial.outcome is outcome, ident
        assert trial.design.is_controlled
        assert trial.dose is not None and trial.dose.low == trial.dose.high == 50
        assert trial.id in (cutis.conflicts or "")
    assert "loratadine" in (entries["loratadine-2004-uremic-pruritus"].dose_note or "")
    assert "placebo" in entries["loratadine-2004-uremic-pruritus"].effect
    assert kb.references["peer-1996"].pmid == "8950882"
    assert cutis.refs == ["cutis-lowdown"] and "IMPROVED" in cutis.effect
    assert entries["ekelem-2019-uremic-pruritus"].outcome is Outcome.NO_BENEFIT
    summary = kb.summarize("uremic-pruritus")
    assert summary.positive == 1 and summary.positive_possibly_low == 0  # 50 mg only
    assert summary.positive_higher_dose == 1 and summary.higher_dose_positive_doses == (
        "50 mg/day",
    )
    condition_note = kb.conditions["uremic-pruritus"].note or ""
    assert "the controlled trials found no benefit" not in condition_note
    assert "Peer 1996" in condition_note and "loratadine" in condition_note


def test_fifty_mg_nonresponder_claim_is_recorded_as_unverified(kb: KnowledgeBase) -> None:
    claim = kb.evidence["cutis-lowdown-other-pruritus"]
    text = claim.conflicts or ""
    assert "NOT" in text and "verified" in text and "Ekelem" in text
    counterexamples = [i for g in ENTRY_MENTION.findall(text) for i in ENTRY_ID.findall(g)]
    assert len(counterexamples) >= 3
    for ident in counterexamples:
        entry = kb.evidence[ident]
        assert entry.outcome is Outcome.IMPROVED
        assert entry.dose is not None and entry.dose.low == 50


# ---------------------------------------------------------------- broken copies


def _edit_first_psoriasis_entry(data: Path, change: Callable[[dict[str, Any]], None]) -> str:
    path = data / "evidence" / "psoriasis.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc["evidence"][0])
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return str(doc["evidence"][0]["id"])


def _typo(entry: dict[str, Any]) -> None:
    entry["measurs"] = entry.pop("measures")


def _unknown_ref(entry: dict[str, Any]) -> None:
    entry["refs"] = ["no-such-reference"]


def _bare_mg(entry: dict[str, Any]) -> None:
    entry["dose"] = {"value": 4.5, "unit": "mg"}


def _unknown_condition(entry: dict[str, Any]) -> None:
    entry["condition"] = "no-such-condition"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_typo, "'measurs'"),
        (_unknown_ref, "unknown reference 'no-such-reference'"),
        (_bare_mg, "dose.unit"),
        (_unknown_condition, "unknown condition 'no-such-condition'"),
    ],
    ids=["field-typo", "unknown-reference", "unit-mg", "unknown-condition"],
)
def test_broken_copy_names_file_entry_and_problem(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    ident = _edit_first_psoriasis_entry(data, change)
    with pytest.raises(KnowledgeError) as caught:
        load(data)
    lines = [line for line in str(caught.value).splitlines() if problem in line]
    assert lines, str(caught.value)
    assert "psoriasis.yaml" in lines[0] and ident in lines[0]


# ---------------------------------------------------------------- model properties

DOSES = st.floats(min_value=0, max_value=1000, exclude_min=True, allow_nan=False)


@given(low=DOSES, high=DOSES)
def test_dose_range_accepts_exactly_ordered_bounds(low: float, high: float) -> None:
    data = {"low": low, "high": high, "unit": "mg/day"}
    if low <= high:
        dose = validate(DoseRange, data)
        assert dose.label().endswith("mg/day")
    else:
        with pytest.raises(ValidationError, match="above high"):
            validate(DoseRange, data)


@given(value=DOSES)
def test_single_value_dose_is_a_fixed_range(value: float) -> None:
    dose = validate(DoseRange, {"value": value, "unit": "mg/day"})
    assert dose.low == dose.high == value


@given(unit=st.text(alphabet="mg/dayhkµ \t", max_size=10).filter(lambda u: u.strip() != "mg/day"))
def test_any_other_dose_unit_is_rejected(unit: str) -> None:
    with pytest.raises(ValidationError):
        validate(DoseRange, {"value": 4.5, "unit": unit})


@given(note=st.none() | st.text(alphabet=" \t\nab.", max_size=20))
def test_entry_without_dose_needs_a_reason(note: str | None) -> None:
    data = {
        "id": "x",
        "condition": "psoriasis",
        "study": "X 2020",
        "design": "case-report",
        "dose": None,
        "dose_note": note,
        "outcome": "improved",
        "effect": "improved",
        "refs": ["x"],
        "certainty": "seen-abstract",
    }
    if note is not None and note.strip():
        assert validate(EvidenceEntry, data).dose_note == note.strip()
    else:
        with pytest.raises(ValidationError, match="dose_note"):
            validate(EvidenceEntry, data)


def test_the_evidence_mix_sentence_is_counted_from_the_data() -> None:
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    designs = [e.design.value for e in kb.evidence.values()]
    small = sum(d in {"case-report", "case-series", "retrospective-series"} for d in designs)
    sentence = kb.evidence_mix()
    assert f"Of the {len(designs)} evidence entries" in sentence
    assert f"{small} are case reports or case series" in sentence


def test_a_dose_range_starting_in_the_low_dose_range_may_be_low() -> None:
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    high = kb.drug.canonical_low_dose.high
    for e in kb.evidence.values():
        expected = e.dose is None or e.dose.low <= high
        assert kb.possibly_low(e) is expected, e.id
    assert any(e.dose and e.dose.low < high < e.dose.high for e in kb.evidence.values())


@pytest.mark.parametrize(("query", "said"), [("", "no condition given"), ("../../", "'../../'")])
def test_a_query_without_letters_or_digits_is_named(query: str, said: str) -> None:
    with pytest.raises(UnknownConditionError, match=re.escape(said)):
        get_knowledge().find_condition(query)
