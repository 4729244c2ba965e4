"""Non-opioid LDN rules: hypersensitivity, pregnancy, breastfeeding, liver, thyroid,
immunosuppression, age; each positive and negative, coded several ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from vignette_fhir import ICD10CM, RXNORM, SNOMED, Bundle, concept, days_ago

from ldn_derm.assess import Assessment, Candidacy, Severity

Run = Callable[..., Assessment]


# ------------------------------------------------------------------ hypersensitivity


@pytest.mark.parametrize(
    "code",
    [
        concept(RXNORM, "7243", "naltrexone"),
        concept(text="Naltrexone (hives)"),
        concept(text="Revia"),
    ],
    ids=["rxnorm", "text", "brand"],
)
def test_naltrexone_allergy_contraindicates(run: Run, code: dict[str, Any]) -> None:
    bundle = Bundle()
    ref = bundle.allergy(code)
    result = run(bundle)
    finding = result.finding("naltrexone-hypersensitivity")
    assert finding is not None and finding.triggered_by == [ref]
    assert result.candidacy is Candidacy.CONTRAINDICATED


def test_naloxone_or_opioid_allergy_is_a_caution(run: Run) -> None:
    bundle = Bundle()
    bundle.allergy(concept(RXNORM, "7242", "naloxone"))
    bundle.allergy(concept(text="Morphine"))
    result = run(bundle)
    finding = result.finding("opioid-cross-sensitivity")
    assert finding is not None and finding.severity is Severity.CAUTION
    assert len(finding.triggered_by) == 2
    assert result.finding("naltrexone-hypersensitivity") is None


def test_inactive_or_food_allergies_do_not_count(run: Run) -> None:
    bundle = Bundle()
    bundle.allergy(concept(text="naltrexone"), status="resolved")
    bundle.allergy(concept(SNOMED, "91935009", "Allergy to peanuts"), category="food")
    result = run(bundle)
    assert result.finding("naltrexone-hypersensitivity") is None
    assert any("food or environmental" in n.text for n in result.not_assessed)


# ------------------------------------------------------------------ pregnancy and breastfeeding


@pytest.mark.parametrize(
    "code",
    [
        concept(ICD10CM, "Z33.1", "Pregnant state, incidental"),
        concept(SNOMED, "72892002", "Normal pregnancy"),
        concept(text="Pregnancy, 12 weeks"),
    ],
    ids=["icd10", "snomed", "text"],
)
def test_current_pregnancy_record(run: Run, code: dict[str, Any]) -> None:
    bundle = Bundle(birth="1994-01-01")
    ref = bundle.condition(code, onset=days_ago(60))
    result = run(bundle)
    finding = result.finding("pregnancy")
    assert finding is not None and finding.triggered_by == [ref]
    assert finding.severity is Severity.CAUTION


def test_positive_then_negative_pregnancy_test(run: Run) -> None:
    positive = Bundle(birth="1994-01-01")
    positive.observation(
        "2106-3",
        "Choriogonadotropin (pregnancy test) [Presence] in Urine",
        coded="Positive",
        when=days_ago(20),
    )
    assert run(positive).finding("pregnancy") is not None

    later_negative = Bundle(birth="1994-01-01")
    later_negative.observation("2106-3", "hCG urine", coded="Positive", when=days_ago(20))
    later_negative.observation("2106-3", "hCG urine", coded="Negative", when=days_ago(5))
    result = run(later_negative)
    assert result.finding("pregnancy") is None
    assert result.finding("pregnancy-not-excluded") is None  # a negative test excludes it


def test_stale_pregnancy_record_is_not_a_current_pregnancy(run: Run) -> None:
    bundle = Bundle(birth="1994-01-01")
    bundle.condition(concept(SNOMED, "72892002", "Normal pregnancy"), onset=days_ago(900))
    result = run(bundle)
    assert result.finding("pregnancy") is None
    assert result.finding("pregnancy-not-excluded") is not None  # 32-year-old, status unknown


@pytest.mark.parametrize(("gender", "birth"), [("male", "1990-01-01"), ("female", "1950-01-01")])
def test_pregnancy_not_raised_for_men_or_outside_childbearing_age(
    run: Run, gender: str, birth: str
) -> None:
    codes = run(Bundle(gender=gender, birth=birth)).codes()
    assert "pregnancy" not in codes and "pregnancy-not-excluded" not in codes


def test_breastfeeding(run: Run) -> None:
    bundle = Bundle()
    ref = bundle.condition(concept(ICD10CM, "Z39.1", "Encounter for care of lactating mother"))
    finding = run(bundle).finding("lactation")
    assert finding is not None and finding.triggered_by == [ref]
    assert run(Bundle()).finding("lactation") is None


# ------------------------------------------------------------------ liver


@pytest.mark.parametrize(
    "code",
    [
        concept(ICD10CM, "K74.60", "Unspecified cirrhosis of liver"),
        concept(text="Fatty liver"),
        concept(ICD10CM, "B18.2", "Chronic viral hepatitis C"),
    ],
    ids=["icd10-cirrhosis", "text-nafld", "icd10-hepatitis-c"],
)
def test_liver_disease(run: Run, code: dict[str, Any]) -> None:
    bundle = Bundle()
    bundle.condition(code)
    finding = run(bundle).finding("liver-disease")
    assert finding is not None and finding.severity is Severity.CAUTION


def test_liver_disease_negative_cases(run: Run) -> None:
    bundle = Bundle()
    bundle.condition(concept(text="Hepatitis B vaccination"))
    bundle.condition(
        concept(ICD10CM, "K74.60", "Unspecified cirrhosis of liver"),
        status="resolved",
        abated=days_ago(30),
    )
    assert run(bundle).finding("liver-disease") is None


@pytest.mark.parametrize(
    "extra", [{"interpretation": "H"}, {"high": 40.0}], ids=["interpretation", "reference-range"]
)
def test_liver_enzymes_flagged_high(run: Run, extra: dict[str, Any]) -> None:
    bundle = Bundle()
    bundle.observation("1742-6", "ALT", value=130, unit="U/L", **extra)
    assert run(bundle).finding("liver-tests-abnormal") is not None


def test_liver_enzymes_unflagged_or_old_do_not_raise(run: Run) -> None:
    bundle = Bundle()
    bundle.observation("1742-6", "ALT", value=130, unit="U/L")  # no range, no flag
    bundle.observation(
        "1920-8", "AST", value=300, unit="U/L", interpretation="H", when=days_ago(800)
    )
    assert run(bundle).finding("liver-tests-abnormal") is None


# ------------------------------------------------------------------ thyroid


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("condition", concept(ICD10CM, "E03.9", "Hypothyroidism, unspecified")),
        ("condition", concept(SNOMED, "83664006", "Idiopathic atrophic hypothyroidism")),
        ("condition", concept(text="Hashimoto's thyroiditis")),
        ("request", concept(RXNORM, "966222", "Levothyroxine Sodium 0.075 MG Oral Tablet")),
    ],
    ids=["icd10", "snomed", "text", "levothyroxine"],
)
def test_thyroid_disease(run: Run, kind: str, code: dict[str, Any]) -> None:
    bundle = Bundle()
    getattr(bundle, kind)(code)
    result = run(bundle)
    finding = result.finding("thyroid-disease")
    assert finding is not None and finding.severity is Severity.CAUTION
    assert "cutis-lowdown" in finding.references


def test_tsh_screening_states(run: Run) -> None:
    no_tsh = run(Bundle())
    assert no_tsh.finding("tsh-screening") is not None

    normal = Bundle()
    normal.observation("3016-3", "TSH", value=2.1, unit="mIU/L", interpretation="N")
    codes = run(normal).codes()
    assert "tsh-screening" not in codes and "tsh-out-of-range" not in codes

    high = Bundle()
    high.observation("3016-3", "TSH", value=9.0, unit="mIU/L", interpretation="H")
    assert run(high).finding("tsh-out-of-range") is not None


# ------------------------------------------------------------------ immunosuppression, age


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("request", concept(text="tacrolimus 1 mg capsule")),
        ("request", concept(text="Humira (adalimumab) pen")),
        ("condition", concept(ICD10CM, "Z94.0", "Kidney transplant status")),
    ],
    ids=["tacrolimus", "adalimumab", "transplant-status"],
)
def test_immunosuppression(run: Run, kind: str, code: dict[str, Any]) -> None:
    bundle = Bundle()
    getattr(bundle, kind)(code)
    finding = run(bundle).finding("immunosuppression")
    assert finding is not None and finding.severity is Severity.CAUTION


def test_stopped_immunosuppressant_does_not_count(run: Run) -> None:
    bundle = Bundle()
    bundle.request(concept(text="tacrolimus 1 mg"), status="stopped", authored=days_ago(400))
    assert run(bundle).finding("immunosuppression") is None


def test_children_get_a_caution_and_adults_do_not(run: Run) -> None:
    child = run(Bundle(birth="2015-01-01"))
    finding = child.finding("age-under-adult")
    assert finding is not None and finding.severity is Severity.CAUTION
    assert run(Bundle(birth="1980-01-01")).finding("age-under-adult") is None


def test_deceased_patient_is_noted_and_age_is_at_death(run: Run) -> None:
    bundle = Bundle(birth="1950-06-01", deceasedDateTime="2000-06-02T10:00:00Z")
    result = run(bundle)
    assert result.patient.age == 50
    assert result.finding("patient-deceased") is not None
