"""Comparator flags: each concern raised from diagnoses (several codings) and from labs.

Expected flags are looked up by concern in comparators.yaml, so the tests follow that file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from vignette_fhir import ICD10CM, SNOMED, Bundle, concept, days_ago

from ldn_derm.assess import Assessment, Severity
from ldn_derm.knowledge import KnowledgeBase

Run = Callable[..., Assessment]


def flags_for(kb: KnowledgeBase, concern: str) -> set[str]:
    return {f.id for c in kb.comparators.values() for f in c.flags if f.concern.value == concern}


def raised(result: Assessment) -> dict[str, Severity]:
    return {f.code: f.severity for c in result.comparators for f in c.flags}


CONCERNS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("liver-disease", concept(ICD10CM, "K76.0", "Fatty (change of) liver, NEC"), {}),
    ("alcohol-use", concept(SNOMED, "7200002", "Alcoholism"), {}),
    ("alcohol-use", concept(ICD10CM, "F10.20", "Alcohol dependence, uncomplicated"), {}),
    ("hyperlipidemia", concept(ICD10CM, "E78.5", "Hyperlipidemia, unspecified"), {}),
    ("hyperlipidemia", concept(SNOMED, "302870006", "Hypertriglyceridemia (disorder)"), {}),
    ("ckd", concept(ICD10CM, "N18.32", "Chronic kidney disease, stage 3b"), {}),
    ("ckd", concept(SNOMED, "431855005", "Chronic kidney disease stage 1 (disorder)"), {}),
    ("hypertension", concept(ICD10CM, "I10", "Essential (primary) hypertension"), {}),
    ("hypertension", concept(text="High blood pressure"), {}),
    (
        "malignancy",
        concept(ICD10CM, "C43.9", "Malignant melanoma of skin, unspecified"),
        {"status": "resolved", "abated": days_ago(2000)},
    ),
    (
        "malignancy",
        concept(ICD10CM, "Z85.3", "Personal history of malignant neoplasm of breast"),
        {},
    ),
    ("malignancy", concept(SNOMED, "254637007", "Non-small cell lung cancer (disorder)"), {}),
    ("serious-infection", concept(ICD10CM, "B20", "HIV disease"), {}),
    ("tuberculosis", concept(ICD10CM, "Z22.7", "Latent tuberculosis"), {}),
    (
        "tuberculosis",
        concept(text="History of pulmonary tuberculosis"),
        {"status": "resolved", "abated": days_ago(4000)},
    ),
    ("depression", concept(ICD10CM, "F33.1", "Major depressive disorder, recurrent, moderate"), {}),
    ("depression", concept(SNOMED, "370143000", "Major depression disorder"), {}),
    ("inflammatory-bowel-disease", concept(text="Crohn's disease of ileum"), {}),
    ("diabetes", concept(ICD10CM, "E11.9", "Type 2 diabetes mellitus without complications"), {}),
    ("obesity", concept(SNOMED, "162864005", "Body mass index 30+ - obesity (finding)"), {}),
]


@pytest.mark.parametrize(
    ("concern", "code", "extra"), CONCERNS, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CONCERNS)]
)
def test_concern_raises_its_comparator_flags(
    run: Run, kb: KnowledgeBase, concern: str, code: dict[str, Any], extra: dict[str, Any]
) -> None:
    bundle = Bundle(gender="male")
    ref = bundle.condition(code, **extra)
    result = run(bundle)
    expected = flags_for(kb, concern)
    assert expected, f"comparators.yaml has no flag for {concern}"
    got = raised(result)
    assert expected <= set(got)
    flag = next(f for c in result.comparators for f in c.flags if f.code in expected)
    assert ref in flag.triggered_by


NEGATIVES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (concept(text="Pulmonary hypertension"), {}),
    (concept(text="Suspected lung cancer (situation)"), {}),
    (concept(ICD10CM, "D04.9", "Carcinoma in situ of skin, unspecified"), {}),
    (concept(text="Respiratory depression"), {}),
    (concept(text="Prediabetes"), {}),
    (concept(text="Hepatitis B vaccination"), {}),
    (concept(text="Family history of colon cancer"), {}),
    (
        concept(ICD10CM, "I10", "Essential hypertension"),
        {"status": "resolved", "abated": days_ago(10)},
    ),
]


@pytest.mark.parametrize(("code", "extra"), NEGATIVES, ids=[str(i) for i in range(len(NEGATIVES))])
def test_lookalikes_and_resolved_records_raise_nothing(
    run: Run, code: dict[str, Any], extra: dict[str, Any]
) -> None:
    bundle = Bundle(gender="male")
    bundle.condition(code, **extra)
    assert raised(run(bundle)) == {}


def test_pregnancy_contraindicates_methotrexate_and_acitretin(run: Run, kb: KnowledgeBase) -> None:
    bundle = Bundle(birth="1995-01-01")
    bundle.condition(concept(ICD10CM, "Z33.1", "Pregnant state, incidental"), onset=days_ago(40))
    got = raised(run(bundle))
    for flag in flags_for(kb, "pregnancy"):
        assert got[flag] is Severity.CONTRAINDICATED


def test_possible_pregnancy_is_capped_at_caution(run: Run, kb: KnowledgeBase) -> None:
    got = raised(run(Bundle(gender="female", birth="1995-01-01")))
    assert got["mtx-pregnancy"] is Severity.CAUTION
    # for acitretin the child-bearing potential flag says it, at its real severity
    assert "acitretin-pregnancy" not in got
    assert got["acitretin-childbearing-potential"] is Severity.CONTRAINDICATED
    older = raised(run(Bundle(gender="female", birth="1960-01-01")))
    assert not (flags_for(kb, "pregnancy") | flags_for(kb, "childbearing-potential")) & set(older)


@pytest.mark.parametrize(
    ("value", "unit", "flagged"), [(210, "mg/dL", True), (120, "mg/dL", False)]
)
def test_triglyceride_cut_off(
    run: Run, kb: KnowledgeBase, value: float, unit: str, flagged: bool
) -> None:
    bundle = Bundle(gender="male")
    bundle.observation("2571-8", "Triglycerides", value=value, unit=unit)
    got = raised(run(bundle))
    assert (flags_for(kb, "hyperlipidemia") <= set(got)) is flagged


def test_lab_in_another_unit_is_reported_not_compared(run: Run) -> None:
    bundle = Bundle(gender="male")
    bundle.observation("2571-8", "Triglycerides", value=2.5, unit="mmol/L")
    result = run(bundle)
    assert raised(result) == {}
    assert any("unit not comparable" in n.reason for n in result.not_assessed)


def test_egfr_persistence_is_stated(run: Run, kb: KnowledgeBase) -> None:
    bundle = Bundle(gender="male")
    bundle.observation("33914-3", "eGFR", value=44, unit="mL/min/{1.73_m2}", when=days_ago(200))
    latest = bundle.observation("62238-1", "eGFR", value=41, unit="mL/min/1.73m2")
    result = run(bundle)
    flag = next(f for c in result.comparators for f in c.flags if f.code in flags_for(kb, "ckd"))
    assert latest in flag.triggered_by
    assert "lasting over 90 days" in flag.detail

    single = Bundle(gender="male")
    single.observation("33914-3", "eGFR", value=41, unit="mL/min")
    flag = next(
        f for c in run(single).comparators for f in c.flags if f.code in flags_for(kb, "ckd")
    )
    assert "not shown to last" in flag.detail


def test_old_labs_do_not_flag(run: Run) -> None:
    bundle = Bundle(gender="male")
    bundle.observation("39156-5", "Body Mass Index", value=36, unit="kg/m2", when=days_ago(800))
    assert raised(run(bundle)) == {}


def test_every_comparator_is_listed_even_without_flags(run: Run, kb: KnowledgeBase) -> None:
    result = run(Bundle(gender="male"))
    assert [c.therapy for c in result.comparators] == ["ldn", *kb.comparators]


def test_baselines_are_built_once_and_each_caller_gets_its_own_list(kb: KnowledgeBase) -> None:
    from ldn_derm.assess.comparators import comparator_baseline, ldn_baseline
    from ldn_derm.knowledge.models import as_data

    for comparator in kb.comparators.values():
        first = comparator_baseline(comparator)
        first.clear()  # a caller's list is its own
        again = comparator_baseline(comparator)
        assert again and as_data(again) == as_data(comparator_baseline(comparator))
    condition = next(iter(kb.conditions))
    for ids in ([], [condition]):
        mine = ldn_baseline(kb, ids)
        mine.pop()
        assert len(ldn_baseline(kb, ids)) == len(mine) + 1
    # each set of conditions has its own evidence item
    assert as_data(ldn_baseline(kb, [])[0]) != as_data(ldn_baseline(kb, [condition])[0])
