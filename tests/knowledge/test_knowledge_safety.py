"""The LDN monograph, safety items and comparators: complete, cited, and honest about strength."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.knowledge.models import (
    Certainty,
    Comparator,
    ComparatorFlag,
    Concern,
    OptionFact,
    SafetyItem,
    SafetyKind,
    Statement,
)
from ldn_derm.knowledge.monograph import SECTION_ORDER, monograph_sections

# Ids the assessment engine refers to, with the kind it expects.
STABLE_SAFETY_IDS = {
    "opioid-analgesics": SafetyKind.CONTRAINDICATION,
    "opioid-dependence": SafetyKind.CONTRAINDICATION,
    "opioid-withdrawal": SafetyKind.CONTRAINDICATION,
    "naloxone-challenge": SafetyKind.CONTRAINDICATION,
    "hypersensitivity": SafetyKind.CONTRAINDICATION,
    "opioid-free-interval": SafetyKind.CAUTION,
    "opioid-interactions": SafetyKind.INTERACTION,
    "hepatic-impairment": SafetyKind.CAUTION,
    "pregnancy": SafetyKind.CAUTION,
    "lactation": SafetyKind.CAUTION,
    "thyroid-disease": SafetyKind.CAUTION,
    "tsh-screening": SafetyKind.MONITORING,
    "immunosuppression": SafetyKind.CAUTION,
    "perioperative-opioids": SafetyKind.CAUTION,
    "overcoming-blockade": SafetyKind.CAUTION,
    "renal-impairment": SafetyKind.CAUTION,
    "depression-suicidality": SafetyKind.CAUTION,
    "thioridazine": SafetyKind.INTERACTION,
    "vivid-dreams": SafetyKind.ADVERSE_EFFECT,
    "gi-upset": SafetyKind.ADVERSE_EFFECT,
    "headache-anxiety": SafetyKind.ADVERSE_EFFECT,
    "self-limited": SafetyKind.ADVERSE_EFFECT,
    "no-abuse-potential": SafetyKind.ADVERSE_EFFECT,
    "ldn-psoriasis-series-aes": SafetyKind.ADVERSE_EFFECT,
    "serious-adverse-events-meta": SafetyKind.ADVERSE_EFFECT,
    "standard-dose-nausea": SafetyKind.ADVERSE_EFFECT,
    "stopping": SafetyKind.MONITORING,
    "lft-higher-doses": SafetyKind.MONITORING,
}

# (comparator, concern, severities accepted) the assessment needs at least.
REQUIRED_FLAGS = [
    ("methotrexate", Concern.PREGNANCY, {"contraindicated"}),
    ("acitretin", Concern.PREGNANCY, {"contraindicated"}),
    ("methotrexate", Concern.LIVER_DISEASE, {"contraindicated"}),
    ("methotrexate", Concern.ALCOHOL_USE, {"contraindicated"}),
    ("methotrexate", Concern.IMMUNODEFICIENCY, {"contraindicated"}),
    ("methotrexate", Concern.BLOOD_DYSCRASIA, {"contraindicated"}),
    ("methotrexate", Concern.SEVERE_KIDNEY_IMPAIRMENT, {"contraindicated"}),
    ("acitretin", Concern.ALCOHOL_USE, {"contraindicated", "caution"}),
    ("acitretin", Concern.HYPERLIPIDEMIA, {"contraindicated"}),
    ("acitretin", Concern.CHILDBEARING_POTENTIAL, {"contraindicated"}),
    ("acitretin", Concern.SEVERE_LIVER_IMPAIRMENT, {"contraindicated"}),
    ("acitretin", Concern.SEVERE_KIDNEY_IMPAIRMENT, {"contraindicated"}),
    ("acitretin", Concern.METHOTREXATE_USE, {"contraindicated"}),
    ("acitretin", Concern.TETRACYCLINE_USE, {"contraindicated"}),
    ("methotrexate", Concern.CKD, {"caution"}),
    ("cyclosporine", Concern.CKD, {"contraindicated", "caution"}),
    ("cyclosporine", Concern.HYPERTENSION, {"contraindicated", "caution"}),
    ("tnf-inhibitors", Concern.MALIGNANCY, {"caution"}),
    ("apremilast", Concern.DEPRESSION, {"caution"}),
    ("il17-inhibitors", Concern.INFLAMMATORY_BOWEL_DISEASE, {"caution"}),
]
INFECTION_SCREENED_BIOLOGICS = [
    "tnf-inhibitors",
    "il17-inhibitors",
    "il23-inhibitors",
    "ustekinumab",
]
EXPECTED_COMPARATORS = {
    "methotrexate",
    "acitretin",
    "cyclosporine",
    "apremilast",
    "tnf-inhibitors",
    "il17-inhibitors",
    "il23-inhibitors",
    "ustekinumab",
    "dupilumab",
}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return get_knowledge()


def _has_primary_ref(kb: KnowledgeBase, refs: list[str]) -> bool:
    return any(kb.references[r].certainty.is_primary for r in refs)


def _says_secondary(caveat: str | None) -> bool:
    return caveat is not None and "secondary" in caveat.lower()


def _flags(kb: KnowledgeBase) -> list[tuple[Comparator, ComparatorFlag]]:
    return [(c, f) for c in kb.comparators.values() for f in c.flags]


# ------------------------------------------------------------------------------ monograph


def test_monograph_has_every_standard_section_with_cited_statements(kb: KnowledgeBase) -> None:
    sections = {s.id: s for s in kb.drug.sections}
    missing = [sid for sid, _ in SECTION_ORDER if sid not in sections]
    assert not missing, f"drug.yaml lacks monograph sections: {missing}"
    for section in kb.drug.sections:
        assert section.statements, section.id
        for statement in section.statements:
            assert statement.refs, (section.id, statement.text)
            assert all(r in kb.references for r in statement.refs), (section.id, statement.refs)


def test_primary_statements_rest_on_primary_sources(kb: KnowledgeBase) -> None:
    statements: list[tuple[str, Statement]] = [
        (s.id, st_) for s in kb.drug.sections for st_ in s.statements
    ]
    for comp in kb.comparators.values():
        extra = [comp.dosing] if comp.dosing else []
        statements += [(comp.id, st_) for st_ in (*extra, *comp.boxed_warnings)]
    facts: list[tuple[str, Statement | OptionFact]] = [*statements]
    for comp in kb.comparators.values():
        baseline = [comp.evidence] if comp.evidence else []
        baseline += [*comp.baseline_risks, *comp.screening, *comp.monitoring]
        facts += [(comp.id, fact) for fact in baseline]
    for where, statement in facts:
        assert statement.certainty is not Certainty.RECALLED, (where, statement.text)
        if statement.certainty.is_primary:
            assert _has_primary_ref(kb, statement.refs), (where, statement.text)


def test_assembled_monograph_files_every_safety_item(kb: KnowledgeBase) -> None:
    filed = {
        item.source_id
        for section in monograph_sections(kb)
        for item in section.items
        if item.source_id
    }
    assert filed == set(kb.safety)


def test_mechanism_keeps_its_caveats(kb: KnowledgeBase) -> None:
    mechanism = next(s for s in kb.drug.sections if s.id == "mechanism")
    cited = {r for st_ in mechanism.statements for r in st_.refs}
    # TLR4 claims must sit next to the human PBMC null result and the (+)-isomer data.
    assert {"cant-2017", "hutchinson-2008", "parkitny-2017"} <= cited
    four_to_six = [st_ for st_ in mechanism.statements if "4-6 hours" in st_.text]
    assert four_to_six and all(st_.caveat for st_ in four_to_six)
    tlr4 = [
        st_ for st_ in mechanism.statements if "TLR4" in st_.text and "cutis-lowdown" in st_.refs
    ]
    assert tlr4 and all(st_.caveat and "TLR4" in st_.caveat for st_ in tlr4)


# ------------------------------------------------------------------------------ safety


def test_stable_safety_ids_exist_with_their_kind(kb: KnowledgeBase) -> None:
    missing = sorted(set(STABLE_SAFETY_IDS) - set(kb.safety))
    assert not missing, f"safety.yaml lacks stable ids: {missing}"
    wrong = {i: kb.safety[i].kind for i, k in STABLE_SAFETY_IDS.items() if kb.safety[i].kind != k}
    assert not wrong


@pytest.mark.parametrize("kind", [SafetyKind.CONTRAINDICATION, SafetyKind.CAUTION])
def test_contraindications_and_cautions_are_seen_or_flagged_secondary(
    kb: KnowledgeBase, kind: SafetyKind
) -> None:
    items = [i for i in kb.safety.values() if i.kind is kind]
    assert items
    for item in items:
        assert item.certainty is not Certainty.RECALLED, item.id
        seen = item.certainty.is_primary and _has_primary_ref(kb, item.refs)
        assert seen or _says_secondary(item.caveat), item.id


def test_label_contraindications_say_they_are_extrapolated(kb: KnowledgeBase) -> None:
    for item in kb.safety.values():
        if item.kind is SafetyKind.CONTRAINDICATION:
            assert item.caveat and "50-mg" in item.caveat, item.id
            assert "applied to LDN by extension" in item.caveat, item.id


def test_secondary_only_items_say_so(kb: KnowledgeBase) -> None:
    assert kb.safety["immunosuppression"].certainty is Certainty.SECONDARY
    assert _says_secondary(kb.safety["immunosuppression"].caveat)
    periop = kb.safety["perioperative-opioids"]
    assert "not been explored" in (periop.caveat or "")
    assert "not peer reviewed" in (periop.caveat or "")  # the LDN-specific web hold times
    assert "37%" in kb.safety["vivid-dreams"].frequency[0].text
    assert "original study" in (kb.safety["vivid-dreams"].caveat or "")


def test_opioid_interactions_cover_the_label_classes(kb: KnowledgeBase) -> None:
    text = kb.safety["opioid-interactions"].text.lower()
    for word in ("antitussive", "antidiarrheal", "analgesic"):
        assert word in text


def test_opioid_free_interval_is_the_label_interval(kb: KnowledgeBase) -> None:
    item = kb.safety["opioid-free-interval"]
    assert "7-10 days" in item.text
    assert "label-naltrexone-mallinckrodt" in item.refs


def _all_frequencies(kb: KnowledgeBase) -> list[tuple[SafetyItem, int]]:
    return [(i, n) for i in kb.safety.values() for n in range(len(i.frequency))]


def test_frequencies_are_published_numbers_with_a_population(kb: KnowledgeBase) -> None:
    pairs = _all_frequencies(kb)
    assert pairs
    for item, n in pairs:
        freq = item.frequency[n]
        assert freq.population, (item.id, freq.text)
        assert freq.percent is not None or (freq.events is not None and freq.total), item.id
        assert item.certainty is not Certainty.RECALLED
        if freq.events is not None and freq.total and freq.percent is not None:
            exact = 100 * freq.events / freq.total
            assert math.isclose(freq.percent, exact, abs_tol=1.0), (item.id, freq.text)


# ------------------------------------------------------------------------------ comparators


def test_expected_comparators_exist(kb: KnowledgeBase) -> None:
    assert set(kb.comparators) >= EXPECTED_COMPARATORS


@pytest.mark.parametrize(("comparator", "concern", "severities"), REQUIRED_FLAGS)
def test_comparator_flags_cover_required_concerns(
    kb: KnowledgeBase, comparator: str, concern: Concern, severities: set[str]
) -> None:
    flags = [f for f in kb.comparators[comparator].flags if f.concern is concern]
    assert flags, f"{comparator} has no {concern.value} flag"
    assert any(f.severity in severities for f in flags)


@pytest.mark.parametrize("comparator", INFECTION_SCREENED_BIOLOGICS)
def test_biologics_flag_serious_infection_and_tuberculosis(
    kb: KnowledgeBase, comparator: str
) -> None:
    concerns = {f.concern for f in kb.comparators[comparator].flags}
    assert {Concern.SERIOUS_INFECTION, Concern.TUBERCULOSIS} <= concerns


def test_contraindicated_flags_rest_on_seen_sources(kb: KnowledgeBase) -> None:
    contraindicated = [(c, f) for c, f in _flags(kb) if f.severity == "contraindicated"]
    assert contraindicated
    for comp, flag in contraindicated:
        assert flag.certainty.is_primary, (comp.id, flag.id)
        assert all(kb.references[r].certainty is not Certainty.RECALLED for r in flag.refs)
        assert any(kb.references[r].certainty is Certainty.SEEN_LABEL for r in flag.refs), flag.id


def test_no_flag_rests_on_recall_without_saying_so(kb: KnowledgeBase) -> None:
    for comp, flag in _flags(kb):
        if flag.certainty is Certainty.RECALLED:
            assert flag.severity != "contraindicated", (comp.id, flag.id)
            assert flag.caveat and "not verified" in flag.caveat, (comp.id, flag.id)


def test_flag_ids_are_unique(kb: KnowledgeBase) -> None:
    ids = [f.id for _, f in _flags(kb)]
    assert len(ids) == len(set(ids))


def test_cutis_comparison_points_are_carried_with_the_leukemia_wording(kb: KnowledgeBase) -> None:
    cutis = {(c.id, f.concern) for c, f in _flags(kb) if "cutis-lowdown" in f.refs}
    assert ("methotrexate", Concern.LIVER_DISEASE) in cutis
    assert ("acitretin", Concern.HYPERLIPIDEMIA) in cutis
    assert ("tnf-inhibitors", Concern.MALIGNANCY) in cutis
    tnf = next(f for f in kb.comparators["tnf-inhibitors"].flags if f.concern is Concern.MALIGNANCY)
    # FDA required leukaemia wording in TNF blocker labels in 2009: never "not found" again
    assert "fda-2009-tnf-blockers" in tnf.refs and "fda-2011-hstcl" in tnf.refs
    assert tnf.caveat and "not found" not in tnf.caveat and "2009" in tnf.caveat


def test_every_option_has_a_cited_baseline(kb: KnowledgeBase) -> None:
    for comp in kb.comparators.values():
        assert comp.conditions, comp.id
        assert all(c in kb.conditions for c in comp.conditions), comp.id
        assert comp.baseline_risks, f"{comp.id} has no baseline key risk"
        assert comp.screening or comp.monitoring, f"{comp.id} has no screening or monitoring"
        for fact in (*comp.baseline_risks, *comp.screening):
            assert fact.plain, (comp.id, fact.text)  # the patient's option grid shows it
    ldn = kb.ldn_option
    for fact in (*ldn.baseline_risks, *ldn.screening, *ldn.monitoring):
        assert all(item in kb.safety for item in fact.safety), fact.text


def test_acitretin_boxed_warnings_include_hepatotoxicity(kb: KnowledgeBase) -> None:
    boxed = " ".join(st_.text for st_ in kb.comparators["acitretin"].boxed_warnings)
    assert "Hepatotoxicity" in boxed and "Teratogenic" in boxed


def test_tnf_boxed_warning_is_cited_from_labels(kb: KnowledgeBase) -> None:
    boxed = kb.comparators["tnf-inhibitors"].boxed_warnings
    assert boxed and "MALIGNANCY" in boxed[0].text
    assert all(kb.references[r].certainty is Certainty.SEEN_LABEL for r in boxed[0].refs)


# ------------------------------------------------------------------------------ dose ranges


def test_standard_dose_agrees_with_the_label(kb: KnowledgeBase) -> None:
    drug = kb.drug
    assert (drug.standard_dose.low, drug.standard_dose.high) == (50, 100)
    label_refs = [
        r for r in drug.standard_dose_refs if kb.references[r].certainty is Certainty.SEEN_LABEL
    ]
    assert label_refs, "the standard dose must cite a label"


def test_low_dose_ranges_are_as_each_source_states_them(kb: KnowledgeBase) -> None:
    stated = {(r.range.low, r.range.high, ref) for r in kb.drug.low_dose_ranges for ref in r.refs}
    assert (1.5, 4.5, "cutis-lowdown") in stated
    assert (1.5, 4.0, "ekelem-2019") in stated
    assert (1, 5, "toljan-2018") in stated
    assert (1, 5, "sikora-2019") in stated
    assert (1, 4.5, "bostick-2019") in stated
    for r in kb.drug.low_dose_ranges:
        assert r.range.high < kb.drug.standard_dose.low


def test_canonical_range_is_the_cutis_range(kb: KnowledgeBase) -> None:
    canon = kb.drug.canonical_low_dose
    assert (canon.low, canon.high) == (1.5, 4.5)


@given(fraction=st.floats(min_value=0.0, max_value=1.0))
def test_every_canonical_dose_lies_inside_a_cited_range(fraction: float) -> None:
    drug = get_knowledge().drug
    canon = drug.canonical_low_dose
    dose = canon.low + fraction * (canon.high - canon.low)
    containing = [r for r in drug.low_dose_ranges if r.range.low <= dose <= r.range.high]
    assert containing
    # ... and inside the range of a source that was read as an article or label.
    assert any(r.certainty.is_primary for r in containing)


def test_perioperative_hold_is_cited_anaesthesia_guidance_for_standard_dose(
    kb: KnowledgeBase,
) -> None:
    periop = kb.safety["perioperative-opioids"]
    hold = next(p for p in kb.terminology.parameters if p.id == "perioperative-hold-days")
    hours = hold.value * 24
    assert f"{hours:g} hours" in periop.text and f"{hours:g}-hour" in (periop.caveat or "")
    assert "standard-dose oral naltrexone" in periop.text
    assert "standard-dose oral naltrexone" in (periop.caveat or "")
    assert "applied to LDN by extension" in (periop.caveat or "")
    peer_reviewed = [r for r in periop.refs if kb.references[r].certainty.is_primary]
    assert {"burns-2022", "goel-2024"} <= set(peer_reviewed)
    assert set(hold.refs) <= set(periop.refs) and hold.certainty is not None


@pytest.mark.parametrize(
    ("item_id", "label_ref"),
    [
        ("renal-impairment", "label-naltrexone-oral-warnings"),
        ("depression-suicidality", "label-vivitrol-warnings"),
        ("overcoming-blockade", "label-naltrexone-oral-warnings"),
        ("overcoming-blockade", "label-vivitrol-warnings"),
    ],
)
def test_label_items_cite_the_label_and_say_it_is_standard_dose(
    kb: KnowledgeBase, item_id: str, label_ref: str
) -> None:
    item = kb.safety[item_id]
    assert label_ref in item.refs
    assert kb.references[label_ref].certainty is Certainty.SEEN_LABEL
    caveat = item.caveat or ""
    assert "LDN" in caveat and ("50 mg" in caveat or "50-mg" in caveat or "label" in caveat)


def test_depression_caveat_names_the_addiction_population_and_the_antidepressant_rule(
    kb: KnowledgeBase,
) -> None:
    caveat = kb.safety["depression-suicidality"].caveat or ""
    assert "addiction treatment" in caveat and "50 mg" in caveat
    assert "Antidepressant use is not counted" in caveat


def test_monograph_carries_the_blockade_warning_and_the_surgery_counselling(
    kb: KnowledgeBase,
) -> None:
    sections = {s.id: s for s in monograph_sections(kb)}
    warnings = {i.source_id for i in sections["warnings"].items}
    assert {"overcoming-blockade", "renal-impairment", "depression-suicidality"} <= warnings
    assert "perioperative-opioids" in warnings
    counselling = [i.text for i in sections["counselling"].items]
    assert any("fatal overdose" in t and "withdrawal" in t for t in counselling)
    surgery = kb.drug.statement("counsel-surgery")
    assert "72 hours" in surgery.text and "standard-dose oral naltrexone" in surgery.text
    assert surgery.caveat and "applied to LDN by extension" in surgery.caveat
