"""Terminology matching, and checks that the codes marked verified really are what they claim."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import simple_icd_10_cm as icd

from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.patient.profile import Code
from ldn_derm.patient.terminology import Matcher, matcher_for, norm


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return get_knowledge()


@pytest.fixture(scope="module")
def m(kb: KnowledgeBase) -> Matcher:
    return matcher_for(kb)


@pytest.mark.parametrize(
    ("text", "ingredients"),
    [
        (
            "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
            {"acetaminophen", "oxycodone"},
        ),
        (
            "Acetaminophen 300 MG / HYDROcodone Bitartrate 5 MG [Vicodin]",
            {"acetaminophen", "hydrocodone"},
        ),
        (
            "Abuse-Deterrent 12 HR Oxycodone Hydrochloride 15 MG Extended Release Oral Tablet",
            {"oxycodone"},
        ),
        ("Percocet", {"oxycodone", "acetaminophen"}),
        ("NORCO 10/325", {"hydrocodone", "acetaminophen"}),
        ("Suboxone 8 mg-2 mg film", {"buprenorphine", "naloxone"}),
        ("Tylenol #3", {"acetaminophen", "codeine"}),
        ("Tylenol with Codeine", {"acetaminophen", "codeine"}),
        ("promethazine-codeine syrup", {"promethazine", "codeine"}),
        ("Embeda 30 mg/1.2 mg", {"morphine", "naltrexone"}),
        ("Lomotil", {"diphenoxylate", "atropine"}),
        ("Simvistatin 10 MG", {"simvastatin"}),
        ("Camila 28 Day Pack", {"norethindrone"}),
    ],
)
def test_drug_names(m: Matcher, text: str, ingredients: set[str]) -> None:
    match = m.match_drug([], [text])
    assert match.ingredients == ingredients
    assert match.recognised


@pytest.mark.parametrize(
    ("text", "is_opioid"),
    [
        ("Imodium 2 mg", False),
        ("loperamide hydrochloride 2 MG Oral Capsule", False),
        ("Dextromethorphan Hydrobromide 1 MG/ML", False),
        ("Lomotil", True),
        ("naltrexone 4.5 mg capsule", False),
        ("Embeda", True),
        ("Suboxone", True),
    ],
)
def test_opioid_class_any_ingredient(m: Matcher, text: str, is_opioid: bool) -> None:
    assert ("opioid" in m.match_drug([], [text]).classes) is is_opioid


@pytest.mark.parametrize(
    ("code", "ingredients"),
    [
        ("7804", {"oxycodone"}),
        ("1049221", {"acetaminophen", "oxycodone"}),
        ("351266", {"buprenorphine", "naloxone"}),
        ("1190641", {"diphenoxylate", "atropine"}),
    ],
)
def test_rxnorm_codes_without_text(m: Matcher, code: str, ingredients: set[str]) -> None:
    match = m.match_drug([Code("rxnorm", code)], [])
    assert match.ingredients == ingredients and match.recognised


def test_unknown_parts_are_reported(m: Matcher) -> None:
    unknown = m.match_drug([Code("rxnorm", "99999999")], ["Fooxol 5 MG / Acetaminophen 325 MG"])
    assert not unknown.recognised
    assert unknown.unrecognised_parts == ("fooxol",)
    assert unknown.ingredients == {"acetaminophen"}
    assert not m.match_drug([], []).recognised


@pytest.mark.parametrize(
    ("text", "unknown", "known"),
    [
        ("Tylenol Codein", "codein", {"acetaminophen"}),
        ("Acetaminophen Hydrocodon 325 mg", "hydrocodon", {"acetaminophen"}),
        ("Hydrocodon-Acetaminophen 5/325", "hydrocodon", {"acetaminophen"}),
        ("Zohydro ibuprofen", "zohydro", {"ibuprofen"}),
    ],
)
def test_a_known_name_does_not_cover_an_unknown_word_beside_it(
    m: Matcher, text: str, unknown: str, known: set[str]
) -> None:
    """A misspelled or unknown opioid written next to a known ingredient or brand leaves the
    product unchecked (it used to count as fully named by the known word)."""
    found = m.match_drug([], [text])
    assert not found.recognised
    assert found.unrecognised_parts == (unknown,)
    assert found.ingredients == known


@pytest.mark.parametrize(
    "text",
    [
        "Naltrexone HCl 50 mg tablet",
        "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
        "Dextromethorphan 15 mg cough syrup",
        "remifentanil infusion",
        "Tylenol Extra Strength",
    ],
)
def test_strengths_forms_salts_and_descriptions_need_no_name(m: Matcher, text: str) -> None:
    assert m.match_drug([], [text]).recognised


@pytest.mark.parametrize(
    "text",
    [
        "LDN 4.5 mg capsule (compounded)",
        "Low-dose naltrexone 1.5 mg",
        "low dose naltrexone HCl 4.5 mg in Avicel",
        "naltrexone 3 mg capsule, microcrystalline cellulose filler",
    ],
)
def test_low_dose_naltrexone_as_clinicians_write_it(m: Matcher, text: str) -> None:
    found = m.match_drug([], [text])
    assert found.recognised and found.ingredients == {"naltrexone"}


@pytest.mark.parametrize(
    ("codes", "text", "concepts"),
    [
        ([Code("icd10cm", "N18.32")], "", {"ckd"}),
        ([Code("icd10cm", "N1832")], "", {"ckd"}),  # dotless
        ([Code("icd10cm", "C84.0A")], "Mycosis fungoides, in remission", {"malignancy"}),
        ([Code("icd10cm", "C7A.010")], "", {"malignancy"}),
        ([Code("icd10", "I10")], "", {"hypertension"}),  # WHO ICD-10 system
        ([Code(None, "38341003")], "", {"hypertension"}),  # bare SNOMED code
        ([], "Pulmonary hypertension", set()),
        ([], "Suspected malignant neoplasm", set()),
        ([], "Hepatitis B vaccination", set()),
        ([Code("icd10cm", "O03.9")], "Complete or unspecified spontaneous abortion", set()),
        ([Code("icd10cm", "E11.22")], "", {"ckd", "diabetes"}),
    ],
)
def test_concepts(m: Matcher, codes: list[Code], text: str, concepts: set[str]) -> None:
    assert set(m.match_condition(codes, [text] if text else []).concepts) == concepts


def test_icd10_old_and_new_lichen_planopilaris_codes(m: Matcher) -> None:
    for code in ("L66.1", "L66.10", "L66.11", "L66.12", "L66.19"):
        assert m.match_condition([Code("icd10cm", code)], []).indications == (
            "lichen-planopilaris",
        )


# ------------------------------------------------------------------ verified codes are real


def test_verified_icd10_codes_exist_with_their_descriptions(kb: KnowledgeBase) -> None:
    checked = 0
    for concept in kb.terminology.concepts:
        for coding in concept.icd10cm:
            if not coding.verified:
                continue
            assert icd.is_valid_item(coding.code), f"{concept.id}: {coding.code}"
            if coding.display:
                assert norm(icd.get_description(coding.code)).startswith(norm(coding.display)), (
                    coding.code
                )
            checked += 1
    assert checked > 50


def _synthea_displays(folder: Path) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for path in folder.glob("*.json"):
        for entry in orjson.loads(path.read_bytes()).get("entry", []):
            res = entry["resource"]
            for key in ("code", "medicationCodeableConcept"):
                for coding in res.get(key, {}).get("coding", []):
                    display = re.sub(r"[\u200b]", "", coding.get("display", ""))
                    seen.setdefault(coding["code"], set()).add(norm(display))
    return seen


def test_codes_verified_in_synthea_appear_there_with_that_display(
    kb: KnowledgeBase, synthea_bundles: list[Path]
) -> None:
    seen = _synthea_displays(synthea_bundles[0].parent)
    claims: list[tuple[str, str]] = []
    for concept in kb.terminology.concepts:
        for coding in concept.snomed:
            if coding.verified and (coding.source or "").startswith("Synthea"):
                claims.append((coding.code, coding.display or ""))
    for lab in kb.terminology.labs:
        for coding in lab.loinc:
            if coding.verified and (coding.source or "").startswith("Synthea"):
                claims.append((coding.code, ""))
    for product in kb.terminology.products:
        if product.rxcui and (product.source or "").startswith("Synthea"):
            claims.append((product.rxcui, product.name))
    assert len(claims) > 30
    for code, display in claims:
        assert code in seen, code
        if display:
            assert norm(display) in seen[code], (code, display, seen[code])


def test_codes_verified_in_the_bulk_sample_appear_there_with_that_display(
    kb: KnowledgeBase, synthea_bundles: list[Path]
) -> None:
    folder = synthea_bundles[0].parent.parent / "bulk-sample-10"
    seen: dict[str, set[str]] = {}
    for path in folder.glob("Condition*.ndjson"):
        for line in path.read_bytes().splitlines():
            for coding in orjson.loads(line).get("code", {}).get("coding", []):
                seen.setdefault(coding["code"], set()).add(norm(coding.get("display", "")))
    claims = [
        (coding.code, coding.display or "")
        for concept in kb.terminology.concepts
        for coding in concept.snomed
        if coding.verified and (coding.source or "").startswith("bulk-sample-10")
    ]
    assert len(claims) >= 4
    for code, display in claims:
        assert code in seen, code
        assert norm(display) in seen[code], (code, display, seen[code])


def test_verified_ingredient_rxcuis_are_the_standards_list(kb: KnowledgeBase) -> None:
    # STANDARDS.md 4.1 (CDC OMTK 2019): the only ingredient RxCUIs allowed to be 'verified'.
    omtk = {
        "naltrexone": "7243",
        "naloxone": "7242",
        "morphine": "7052",
        "codeine": "2670",
        "oxycodone": "7804",
        "hydrocodone": "5489",
        "hydromorphone": "3423",
        "oxymorphone": "7814",
        "fentanyl": "4337",
        "methadone": "6813",
        "buprenorphine": "1819",
        "tramadol": "10689",
        "tapentadol": "787390",
        "meperidine": "6754",
        "butorphanol": "1841",
        "levorphanol": "6378",
        "nalbuphine": "7238",
        "pentazocine": "8001",
        "dihydrocodeine": "23088",
        "opium": "7676",
        "propoxyphene": "8785",
        "levomethadyl": "237005",
    }
    verified = {i.id: i.rxcui for i in kb.terminology.ingredients if i.rxcui_verified}
    assert verified == omtk
