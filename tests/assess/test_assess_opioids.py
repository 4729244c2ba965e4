"""Opioid rules, each positive and negative, with medications coded several ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from vignette_fhir import ICD10CM, RXNORM, SNOMED, Bundle, concept, days_ago

from ldn_derm.assess import Assessment, Candidacy, Severity

Run = Callable[..., Assessment]

# One opioid product, coded the ways real records code it.
OXY_APAP_SCD = "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet"
OPIOID_CODINGS: dict[str, dict[str, Any]] = {
    "rxnorm-scd-with-display": concept(RXNORM, "1049221", OXY_APAP_SCD),
    "rxnorm-scd-code-only": concept(RXNORM, "1049221"),
    "rxnorm-ingredient-code-only": concept(RXNORM, "7804"),
    "tall-man-display-no-code": concept(display="Acetaminophen 325 MG / oxyCODONE HCl 5 MG"),
    "brand-text-percocet": concept(text="Percocet 5/325"),
    "brand-text-norco": concept(text="Norco 10-325 tablet"),
    "brand-text-vicodin": concept(text="Vicodin"),
    "brand-text-tylenol-3": concept(text="Tylenol #3"),
    "antitussive-text": concept(text="promethazine-codeine syrup 5 mL q4h prn cough"),
    "ndc-code-with-display": concept(
        "http://hl7.org/fhir/sid/ndc", "63481-623-70", "PERCOCET, 100 TABLET in 1 BOTTLE"
    ),
    "fentanyl-patch": concept(text="Fentanyl 25 mcg/hr transdermal patch"),
    "tramadol": concept(RXNORM, "10689", "tramadol"),
    "diphenoxylate-lomotil": concept(text="Lomotil 2.5 mg/0.025 mg"),
}


@pytest.mark.parametrize("coding", OPIOID_CODINGS.values(), ids=OPIOID_CODINGS.keys())
def test_active_opioid_request_is_contraindicated(run: Run, coding: dict[str, Any]) -> None:
    bundle = Bundle()
    ref = bundle.request(coding)
    result = run(bundle)
    assert result.candidacy is Candidacy.CONTRAINDICATED
    finding = result.finding("opioid-use")
    assert finding is not None and finding.severity is Severity.CONTRAINDICATED
    assert finding.triggered_by == [ref]
    assert "label-naltrexone-oral" in finding.references


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("statement", "active"),
        ("statement", "intended"),
        ("administration", "in-progress"),
        ("request", "on-hold"),
        ("request", "draft"),
    ],
)
def test_other_current_statuses_and_resource_types(run: Run, kind: str, status: str) -> None:
    bundle = Bundle()
    ref = getattr(bundle, kind)(concept(text="oxycodone 5 mg"), status=status)
    result = run(bundle)
    finding = result.finding("opioid-use")
    assert finding is not None and finding.triggered_by == [ref]


def test_medication_reference_and_contained_medication(run: Run) -> None:
    bundle = Bundle()
    med = bundle.medication(
        concept(text="Compounded analgesic"),
        [concept(RXNORM, "161", "Acetaminophen"), concept(RXNORM, "5489", "Hydrocodone")],
        ident="med-1",
    )
    bundle.request(reference=med)
    contained = {"resourceType": "Medication", "id": "c1", "code": concept(text="Dilaudid 2 mg")}
    bundle.request(reference="#c1", contained=[contained])
    result = run(bundle)
    finding = result.finding("opioid-use")
    assert finding is not None and len(finding.triggered_by) == 2


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_void_orders_are_ignored(run: Run, status: str) -> None:
    bundle = Bundle()
    bundle.request(concept(text="Percocet"), status=status)
    result = run(bundle)
    assert not [c for c in result.codes() if "opioid" in c]


def test_non_opioid_analgesic_is_not_flagged(run: Run) -> None:
    bundle = Bundle()
    bundle.request(concept(RXNORM, "313782", "Acetaminophen 325 MG Oral Tablet"))
    bundle.request(concept(text="Dextromethorphan 15 mg cough syrup"))
    result = run(bundle)
    assert result.candidacy is not Candidacy.CONTRAINDICATED
    assert not [c for c in result.codes() if "opioid" in c]
    assert not [n for n in result.not_assessed if n.kind == "medication"]


@pytest.mark.parametrize(
    "coding",
    [
        concept(text="Suboxone 8 mg/2 mg sublingual film"),
        concept(RXNORM, "6813", "methadone"),
        concept(RXNORM, "351266"),
    ],
    ids=["suboxone-text", "methadone-ingredient", "bup-nx-scd-code-only"],
)
def test_opioid_agonist_therapy(run: Run, coding: dict[str, Any]) -> None:
    bundle = Bundle()
    ref = bundle.request(coding)
    result = run(bundle)
    finding = result.finding("opioid-agonist-therapy")
    assert finding is not None and finding.severity is Severity.CONTRAINDICATED
    assert finding.triggered_by == [ref]
    assert result.finding("opioid-use") is None  # reported once, as agonist therapy


def test_antitussive_cites_the_interaction_label_too(run: Run) -> None:
    bundle = Bundle()
    bundle.request(concept(text="promethazine with codeine syrup"))
    finding = run(bundle).finding("opioid-use")
    assert finding is not None
    assert "label-vivitrol" in finding.references  # opioid-interactions item


def test_loperamide_is_a_caution_not_a_contraindication(run: Run) -> None:
    bundle = Bundle()
    ref = bundle.request(concept(text="Imodium A-D 2 mg"))
    result = run(bundle)
    assert result.candidacy is not Candidacy.CONTRAINDICATED
    finding = result.finding("opioid-antidiarrheal-interaction")
    assert finding is not None and finding.severity is Severity.CAUTION
    assert finding.triggered_by == [ref]


@pytest.mark.parametrize(
    ("ended_days_ago", "expected"),
    [
        (0, "opioid-recent"),
        (5, "opioid-recent"),
        (10, "opioid-recent"),
        (11, "opioid-past"),
        (400, "opioid-past"),
    ],
)
def test_opioid_free_window_with_recorded_end(run: Run, ended_days_ago: int, expected: str) -> None:
    bundle = Bundle()
    period = {"start": days_ago(ended_days_ago + 20), "end": days_ago(ended_days_ago)}
    bundle.statement(concept(text="oxycodone 5 mg"), status="completed", effectivePeriod=period)
    result = run(bundle)
    finding = result.finding(expected)
    assert finding is not None
    assert finding.severity is (Severity.CAUTION if expected == "opioid-recent" else Severity.INFO)
    assert result.candidacy is not Candidacy.CONTRAINDICATED


@pytest.mark.parametrize(("authored", "expected"), [(30, "opioid-recent"), (120, "opioid-past")])
def test_stopped_order_without_end_date(run: Run, authored: int, expected: str) -> None:
    bundle = Bundle()
    bundle.request(concept(text="Norco"), status="stopped", authored=days_ago(authored))
    assert run(bundle).finding(expected) is not None


def test_active_order_whose_period_ended_counts_as_stopped(run: Run) -> None:
    bundle = Bundle()
    bundle.request(
        concept(text="Percocet"),
        dispenseRequest={"validityPeriod": {"start": days_ago(40), "end": days_ago(3)}},
    )
    result = run(bundle)
    assert result.finding("opioid-use") is None
    assert result.finding("opioid-recent") is not None


def test_dispensed_supply_still_running_is_current(run: Run) -> None:
    bundle = Bundle()
    bundle.add(
        {
            "resourceType": "MedicationDispense",
            "status": "completed",
            "subject": bundle.subject,
            "medicationCodeableConcept": concept(text="hydromorphone 2 mg"),
            "whenHandedOver": days_ago(5),
            "daysSupply": {"value": 30, "unit": "days"},
        }
    )
    assert run(bundle).finding("opioid-use") is not None


def test_unknown_status_is_a_caution(run: Run) -> None:
    bundle = Bundle()
    bundle.statement(concept(text="tramadol 50 mg"), status="unknown")
    finding = run(bundle).finding("opioid-status-unknown")
    assert finding is not None and finding.severity is Severity.CAUTION


def test_future_order_relative_to_as_of_is_left_out(run: Run) -> None:
    bundle = Bundle()
    bundle.request(concept(text="Percocet"), authored="2026-07-01")
    result = run(bundle)
    assert result.finding("opioid-use") is None
    assert any("after the as-of date" in n.reason for n in result.not_assessed)


@pytest.mark.parametrize(
    "code",
    [
        concept(ICD10CM, "F11.20", "Opioid dependence, uncomplicated"),
        concept(SNOMED, "5602001", "Opioid abuse (disorder)"),
        concept(text="Opioid use disorder, moderate"),
    ],
    ids=["icd10", "snomed", "text"],
)
def test_opioid_use_disorder(run: Run, code: dict[str, Any]) -> None:
    bundle = Bundle()
    ref = bundle.condition(code)
    result = run(bundle)
    finding = result.finding("opioid-use-disorder")
    assert finding is not None and finding.triggered_by == [ref]
    assert result.candidacy is Candidacy.CONTRAINDICATED


def test_opioid_use_disorder_in_remission_or_resolved_is_a_caution(run: Run) -> None:
    bundle = Bundle()
    bundle.condition(concept(ICD10CM, "F11.21", "Opioid dependence, in remission"))
    bundle.condition(
        concept(SNOMED, "5602001", "Opioid abuse (disorder)"),
        status="resolved",
        abated=days_ago(900),
    )
    result = run(bundle)
    assert result.finding("opioid-use-disorder") is None
    finding = result.finding("opioid-use-disorder-remission")
    assert finding is not None and len(finding.triggered_by) == 2


def test_family_history_of_opioid_abuse_is_not_the_patients(run: Run) -> None:
    bundle = Bundle()
    bundle.condition(concept(text="Family history of opioid abuse"))
    assert not [c for c in run(bundle).codes() if "opioid" in c]


def test_withdrawal_and_long_term_use_codes(run: Run) -> None:
    bundle = Bundle()
    bundle.condition(concept(ICD10CM, "F11.23", "Opioid dependence with withdrawal"))
    bundle.condition(concept(ICD10CM, "Z79.891", "Long term (current) use of opiate analgesic"))
    result = run(bundle)
    assert {"opioid-withdrawal", "opioid-use-disorder", "opioid-use"} <= set(result.codes())


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("Detected", 3, "opioid-screen-positive"),
        ("Positive", 200, "opioid-screen-positive-past"),
        ("Not detected", 3, None),
    ],
)
def test_urine_opiate_screen(run: Run, value: str, days: int, expected: str | None) -> None:
    bundle = Bundle()
    bundle.observation("3879-4", "Opiates [Presence] in Urine", coded=value, when=days_ago(days))
    codes = run(bundle).codes()
    screen = [c for c in codes if c.startswith("opioid-screen")]
    assert screen == ([expected] if expected else [])


def test_every_opioid_code_contains_the_word_opioid(run: Run) -> None:
    bundle = Bundle()
    bundle.request(concept(text="Percocet"))
    bundle.request(concept(text="Suboxone"))
    bundle.request(concept(text="Norco"), status="stopped", authored=days_ago(3))
    bundle.condition(concept(ICD10CM, "F11.23", "Opioid dependence with withdrawal"))
    bundle.allergy(concept(text="codeine"))
    bundle.observation("3879-4", "Opiates [Presence] in Urine", coded="Detected")
    result = run(bundle)
    about_opioids = {
        "opioid-use",
        "opioid-agonist-therapy",
        "opioid-recent",
        "opioid-withdrawal",
        "opioid-use-disorder",
        "opioid-cross-sensitivity",
        "opioid-screen-positive",
    }
    assert about_opioids <= set(result.codes())
