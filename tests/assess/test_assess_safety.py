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


def test_an_unflagged_liver_enzyme_is_shown_as_not_judged(run: Run) -> None:
    """ALT 900 U/L with no flag and no range: no range is assumed, but the value is shown (it
    used to appear nowhere); a flagged one is judged instead."""
    bundle = Bundle()
    bundle.observation("1742-6", "ALT", value=900, unit="U/L")
    shown = run(bundle).finding("liver-tests-not-judged")
    assert shown is not None and "ALT 900 U/L" in shown.summary
    assert shown.severity.value == "info"
    flagged = Bundle()
    flagged.observation("1742-6", "ALT", value=900, unit="U/L", interpretation="H")
    result = run(flagged)
    assert result.finding("liver-tests-not-judged") is None
    assert result.finding("liver-tests-abnormal") is not None


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


# ------------------------------------------------------------------ renal impairment


@pytest.mark.parametrize(
    ("build", "expected_refs"),
    [
        (lambda b: [b.condition(concept(ICD10CM, "N18.4", "Chronic kidney disease, stage 4"))], 1),
        (lambda b: [b.condition(concept(ICD10CM, "N18.6", "End stage renal disease"))], 1),
        (
            lambda b: [b.condition(concept(SNOMED, "431857002", "Chronic kidney disease stage 4"))],
            1,
        ),
        (lambda b: [b.condition(concept(ICD10CM, "Z99.2", "Dependence on renal dialysis"))], 1),
        (lambda b: [b.condition(concept(text="On haemodialysis three times a week"))], 1),
        (
            lambda b: [
                b.observation("33914-3", "eGFR", value=38, unit="mL/min/1.73m2", when=days_ago(5))
            ],
            1,
        ),
        (  # low twice, more than 3 months apart: both results cited
            lambda b: [
                b.observation("33914-3", "eGFR", value=41, unit="mL/min", when=days_ago(5)),
                b.observation("62238-1", "eGFR", value=44, unit="mL/min", when=days_ago(200)),
            ],
            2,
        ),
    ],
    ids=[
        "icd10-ckd4",
        "icd10-esrd",
        "snomed-ckd4",
        "icd10-dialysis",
        "text-haemodialysis",
        "egfr-38",
        "egfr-persistent",
    ],
)
def test_renal_impairment_fires_from_the_record(
    run: Run, build: Callable[[Bundle], list[str]], expected_refs: int
) -> None:
    bundle = Bundle()
    refs = build(bundle)
    result = run(bundle)
    finding = result.finding("renal-impairment")
    assert finding is not None and finding.severity is Severity.CAUTION
    assert finding.triggered_by == refs and len(refs) == expected_refs
    assert "label-naltrexone-oral-warnings" in finding.references
    assert result.candidacy is not Candidacy.CANDIDATE


@pytest.mark.parametrize(
    "build",
    [
        lambda b: b.observation("33914-3", "eGFR", value=75, unit="mL/min/1.73m2"),
        lambda b: b.observation("33914-3", "eGFR", value=60, unit="mL/min/1.73m2"),  # not below
        lambda b: b.observation("33914-3", "eGFR", value=30, unit="mL/min", when=days_ago(800)),
        lambda b: b.condition(
            concept(ICD10CM, "N18.3", "Chronic kidney disease, stage 3"),
            status="resolved",
            abated=days_ago(30),
        ),
        lambda b: b.condition(concept(text="Family history of chronic kidney disease")),
        lambda b: b.condition(concept(ICD10CM, "N17.9", "Acute kidney failure, unspecified")),
    ],
    ids=["egfr-75", "egfr-60", "egfr-old", "resolved-ckd", "family-history", "aki-only"],
)
def test_renal_impairment_does_not_fire(run: Run, build: Callable[[Bundle], str]) -> None:
    bundle = Bundle()
    build(bundle)
    assert run(bundle).finding("renal-impairment") is None


def test_egfr_in_a_unit_we_cannot_compare_is_listed_not_passed(run: Run) -> None:
    bundle = Bundle()
    ref = bundle.observation("33914-3", "eGFR", value=0.5, unit="mL/s/1.73m2")
    result = run(bundle)
    assert result.finding("renal-impairment") is None
    notes = [n for n in result.not_assessed if n.ref == ref]
    assert len(notes) == 1  # the renal rule and the comparator flags note it once
    assert "unit not comparable" in notes[0].reason


# ------------------------------------------------------------------ depression and suicidality


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (concept(ICD10CM, "F33.1", "Major depressive disorder, recurrent, moderate"), "active"),
        (concept(SNOMED, "370143000", "Major depression disorder"), "active"),
        (concept(SNOMED, "370143000", "Major depression disorder"), "resolved"),
        (concept(ICD10CM, "R45.851", "Suicidal ideations"), "active"),
        (concept(ICD10CM, "T14.91XA", "Suicide attempt, initial encounter"), "resolved"),
        (concept(ICD10CM, "Z91.51", "Personal history of suicidal behavior"), "active"),
        (concept(text="Dysthymia"), "active"),
    ],
    ids=["icd10-mdd", "snomed", "history", "ideation", "attempt-history", "z91", "text"],
)
def test_depression_or_suicidality_history_is_a_caution(
    run: Run, code: dict[str, Any], status: str
) -> None:
    bundle = Bundle()
    ref = bundle.condition(code, status=status)
    finding = run(bundle).finding("depression-suicidality")
    assert finding is not None and finding.severity is Severity.CAUTION
    assert finding.triggered_by == [ref]
    assert ("(history)" in finding.summary) is (status == "resolved")
    assert "addiction treatment" in finding.detail  # the label-population caveat travels along


@pytest.mark.parametrize(
    "build",
    [
        # an antidepressant alone is not taken as a history of depression (no source for it)
        lambda b: b.request(concept(RXNORM, "312938", "sertraline 50 MG Oral Tablet")),
        lambda b: b.condition(concept(text="Respiratory depression after anaesthesia")),
        lambda b: b.condition(concept(text="Family history of depression")),
        lambda b: b.condition(
            concept(ICD10CM, "F32.9", "Depressive episode"), status=None, verification="refuted"
        ),
    ],
    ids=["antidepressant-only", "respiratory-depression", "family-history", "refuted"],
)
def test_depression_rule_negative_cases(run: Run, build: Callable[[Bundle], str]) -> None:
    bundle = Bundle()
    build(bundle)
    assert run(bundle).finding("depression-suicidality") is None


# ------------------------------------------------------------------ deceased


@pytest.mark.parametrize(
    "patient",
    [{"deceasedDateTime": "2000-06-02T10:00:00Z"}, {"deceasedBoolean": True}],
    ids=["date-of-death", "deceased-boolean"],
)
def test_deceased_patient_blocks_and_comes_first(run: Run, patient: dict[str, Any]) -> None:
    bundle = Bundle(birth="1950-06-01", **patient)
    bundle.request(concept(RXNORM, "7804", "oxycodone"))  # another contraindication
    result = run(bundle)
    deceased = result.finding("patient-deceased")
    assert deceased is not None and deceased.severity is Severity.CONTRAINDICATED
    assert result.findings[0] == deceased
    assert result.candidacy is Candidacy.CONTRAINDICATED
    assert deceased.triggered_by == ["Patient/p1"]


def test_deceased_patient_age_is_at_death(run: Run) -> None:
    bundle = Bundle(birth="1950-06-01", deceasedDateTime="2000-06-02T10:00:00Z")
    result = run(bundle)
    assert result.patient.age == 50
    finding = result.finding("patient-deceased")
    assert finding is not None and "2000-06-02" in finding.summary


def test_death_after_the_as_of_date_or_deceased_false_does_not_block(run: Run) -> None:
    later = Bundle(birth="1950-06-01", deceasedDateTime="2030-01-01")
    alive = Bundle(birth="1950-06-01", deceasedBoolean=False)
    for bundle in (later, alive):
        assert run(bundle).finding("patient-deceased") is None
