"""Draft orders read and judged in the core (regimen/orders.py).

The order shapes follow the CDS Hooks order-sign hook's own examples (cds-hooks/docs
docs/hooks/order-sign.md: an R4 draft Bundle whose MedicationRequest carries `doseQuantity`
directly on the dosage, and an STU3 one whose `doseAndRate` is a single object; dosage text
such as "5 mL bid x 10 days"), the HL7 CPG examples (`doseQuantity` as a count of an orderable
drug form, v3 orderableDrugForm), and the issue's reproductions (medicationReference, a
combination product, a count of 50 mg tablets, text only, a dose range, a negative dose).
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen.fhir import validate_medication_request
from ldn_derm.regimen.orders import (
    DOSE_OUTSIDE,
    DOSE_UNREADABLE,
    PLAN,
    RECORD_INCOMPLETE,
    OrderAdvice,
    ldn_draft_orders,
    read_doses,
    read_draft_orders,
    review_draft_orders,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
TODAY = date(2026, 11, 2)
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-01-01"}
HAILEY = {
    "resourceType": "Condition",
    "id": "c1",
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "code": {"text": "Hailey-Hailey disease"},
    "subject": {"reference": "Patient/p1"},
}
RECORD = [PATIENT, HAILEY]
DAILY = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}
OXYCODONE = {
    "coding": [
        {
            "system": RXNORM,
            "code": "1049221",
            "display": "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
        }
    ]
}


def bundle(*resources: dict[str, Any], urls: list[str] | None = None) -> dict[str, Any]:
    entries = [{"resource": r} for r in resources]
    for entry, url in zip(entries, urls or [], strict=False):
        entry["fullUrl"] = url
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def order(
    medication: dict[str, Any] | None = None,
    dosage: list[dict[str, Any]] | None = None,
    ident: str = "draft-1",
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        **(medication or concept("7243", "naltrexone")),
        **extra,
    }
    if dosage is not None:
        out["dosageInstruction"] = dosage
    return out


def concept(code: str | None, text: str) -> dict[str, Any]:
    coding = [{"system": RXNORM, "code": code, "display": text}] if code else []
    return {"medicationCodeableConcept": {"coding": coding, "text": text}}


def quantity(value: Any, unit: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"timing": DAILY, "doseAndRate": [{"doseQuantity": {"value": value, "unit": unit}}]}]


def review(draft: dict[str, Any], records: list[dict[str, Any]] = RECORD) -> list[OrderAdvice]:
    return review_draft_orders(draft, records, as_of=TODAY)


def codes(advice: list[OrderAdvice]) -> list[str]:
    return [a.finding.code for a in advice]


def finding(advice: list[OrderAdvice], code: str) -> OrderAdvice:
    return next(a for a in advice if a.finding.code == code)


TABLET_50 = concept("1483744", "naltrexone hydrochloride 50 MG Oral Tablet")
TABLET_50_NAME_ONLY = {
    "medicationCodeableConcept": {"text": "naltrexone hydrochloride 50 MG Oral Tablet"}
}
NAME_STRENGTH_ONLY = {"medicationCodeableConcept": {"text": "Naltrexone HCl 50 mg tablet"}}

# (what the order says, medication, dosageInstruction, expected dose code, mg a day read)
DOSE_CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], str | None, float | None]] = [
    ("4.5 mg once daily", concept("7243", "naltrexone"), quantity(4.5, "mg"), None, 4.5),
    ("50 mg once daily", concept("7243", "naltrexone"), quantity(50, "mg"), DOSE_OUTSIDE, 50),
    ("4500 mcg (UCUM ug)", concept("7243", "naltrexone"), quantity(4500, "ug"), None, 4.5),
    (
        "0.45 mg: a decimal slip",
        concept("7243", "naltrexone"),
        quantity(0.45, "mg"),
        DOSE_OUTSIDE,
        0.45,
    ),
    ("1 tablet of the 50 mg product (RxCUI)", TABLET_50, quantity(1, "tablet"), DOSE_OUTSIDE, 50),
    (
        "1 {tbl} of the 50 mg product (name)",
        TABLET_50_NAME_ONLY,
        quantity(1, "{tbl}"),
        DOSE_OUTSIDE,
        50,
    ),
    (
        "1 TAB, strength in the product name",
        NAME_STRENGTH_ONLY,
        quantity(1, "TAB"),
        DOSE_OUTSIDE,
        50,
    ),
    (
        "half a tablet of 50 mg, twice a day",
        TABLET_50,
        [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 0.5, "unit": "tablet"}}],
            }
        ],
        DOSE_OUTSIDE,
        50,
    ),
    (
        "1 tablet of naltrexone of unknown strength",
        concept("7243", "naltrexone"),
        quantity(1, "tablet"),
        DOSE_UNREADABLE,
        None,
    ),
    (
        "text only, mg",
        concept("7243", "naltrexone"),
        [{"text": "Take 50 mg by mouth once daily"}],
        DOSE_OUTSIDE,
        50,
    ),
    (
        "text only, tablets",
        TABLET_50,
        [{"text": "Take 1 tablet by mouth daily"}],
        DOSE_OUTSIDE,
        50,
    ),
    (
        "text only, low dose at bedtime",
        concept("7243", "naltrexone"),
        [{"text": "4.5 mg at bedtime"}],
        None,
        4.5,
    ),
    (
        "text only, no frequency",
        concept("7243", "naltrexone"),
        [{"text": "50 mg"}],
        DOSE_UNREADABLE,
        None,
    ),
    (
        "text without a dose ('Take one daily')",
        concept("7243", "naltrexone"),
        [{"text": "Take one daily"}],
        DOSE_UNREADABLE,
        None,
    ),
    (
        "doseRange 25-50 mg: the upper bound",
        concept("7243", "naltrexone"),
        [
            {
                "timing": DAILY,
                "doseAndRate": [
                    {
                        "doseRange": {
                            "low": {"value": 25, "unit": "mg"},
                            "high": {"value": 50, "unit": "mg"},
                        }
                    }
                ],
            }
        ],
        DOSE_OUTSIDE,
        50,
    ),
    (
        "doseRange 1.5-4.5 mg",
        concept("7243", "naltrexone"),
        [
            {
                "timing": DAILY,
                "doseAndRate": [
                    {
                        "doseRange": {
                            "low": {"value": 1.5, "unit": "mg"},
                            "high": {"value": 4.5, "unit": "mg"},
                        }
                    }
                ],
            }
        ],
        None,
        4.5,
    ),
    (
        "doseRange without an upper bound",
        concept("7243", "naltrexone"),
        [{"timing": DAILY, "doseAndRate": [{"doseRange": {"low": {"value": 1.5, "unit": "mg"}}}]}],
        DOSE_UNREADABLE,
        None,
    ),
    ("negative dose", concept("7243", "naltrexone"), quantity(-4.5, "mg"), DOSE_UNREADABLE, None),
    ("zero dose", concept("7243", "naltrexone"), quantity(0, "mg"), DOSE_UNREADABLE, None),
    (
        "negative dose in text",
        concept("7243", "naltrexone"),
        [{"text": "-4.5 mg daily"}],
        DOSE_UNREADABLE,
        None,
    ),
    ("no unit", concept("7243", "naltrexone"), quantity(4.5, ""), DOSE_UNREADABLE, None),
    (
        "a volume without a concentration",
        concept("7243", "naltrexone"),
        quantity(4.5, "mL"),
        DOSE_UNREADABLE,
        None,
    ),
    ("no dosage instruction", concept("7243", "naltrexone"), [], DOSE_UNREADABLE, None),
    (
        "hook example shape: doseQuantity on the dosage, bid",
        concept("7243", "naltrexone"),
        [
            {
                "text": "25 mg bid",
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseQuantity": {"value": 25, "unit": "mg", "system": UCUM, "code": "mg"},
            }
        ],
        DOSE_OUTSIDE,
        50,
    ),
    (
        "STU3 example shape: doseAndRate as one object",
        concept("7243", "naltrexone"),
        [{"timing": DAILY, "doseAndRate": {"doseQuantity": {"value": 4.5, "unit": "mg"}}}],
        None,
        4.5,
    ),
    (
        "CPG shape: orderableDrugForm TAB with type",
        TABLET_50,
        [
            {
                "timing": DAILY,
                "doseAndRate": [
                    {
                        "type": {"text": "Ordered"},
                        "doseQuantity": {
                            "value": 1,
                            "unit": "tablet",
                            "system": FORM,
                            "code": "TAB",
                        },
                    }
                ],
            }
        ],
        DOSE_OUTSIDE,
        50,
    ),
    (
        "timing code BID",
        concept("7243", "naltrexone"),
        [
            {
                "timing": {"code": {"coding": [{"code": "BID"}]}},
                "doseAndRate": [{"doseQuantity": {"value": 2.25, "unit": "mg"}}],
            }
        ],
        None,
        4.5,
    ),
    (
        "4.5 mg morning + 4.5 mg bedtime, same sequence: 9 mg a day",
        concept("7243", "naltrexone"),
        [
            {
                "sequence": 1,
                "timing": {
                    "repeat": {"frequency": 1, "period": 1, "periodUnit": "d", "when": [when]}
                },
                "doseAndRate": [{"doseQuantity": {"value": 4.5, "unit": "mg"}}],
            }
            for when in ("MORN", "HS")
        ],
        DOSE_OUTSIDE,
        9.0,
    ),
    (
        "decimal comma in the text: never read as ten times the dose",
        concept("7243", "naltrexone"),
        [{"text": "0,3 mg at bedtime"}],
        DOSE_UNREADABLE,
        None,
    ),
    (
        "SNOMED CT unit code beside unit mg",
        concept("7243", "naltrexone"),
        [
            {
                "timing": DAILY,
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 4.5,
                            "unit": "mg",
                            "system": "http://snomed.info/sct",
                            "code": "258684004",
                        }
                    }
                ],
            }
        ],
        None,
        4.5,
    ),
    ("4.5 MG in capitals", concept("7243", "naltrexone"), quantity(4.5, "MG"), None, 4.5),
]


@pytest.mark.parametrize(
    ("medication", "dosage", "expected", "mg"),
    [c[1:] for c in DOSE_CASES],
    ids=[c[0] for c in DOSE_CASES],
)
def test_each_dose_shape_is_read_or_said_to_be_unread(
    medication: dict[str, Any], dosage: list[dict[str, Any]], expected: str | None, mg: float | None
) -> None:
    draft = bundle(order(medication, dosage))
    (found,) = read_draft_orders(draft, RECORD)
    assert found.ldn_type
    steps = read_doses(found.resource, found.strength)
    if mg is None:
        assert any(s.mg_per_day is None and s.problem for s in steps)
    else:
        assert [float(s.mg_per_day or 0) for s in steps] == [mg]
    advice = review(draft)
    dose_codes = {c for c in codes(advice) if c in {DOSE_OUTSIDE, DOSE_UNREADABLE}}
    assert dose_codes == ({expected} if expected else set())
    assert codes(advice)[-1] == PLAN  # the plan always comes (info, last)
    if expected:
        assert finding(advice, expected).suggestion is not None


def test_a_slip_is_named() -> None:
    advice = review(bundle(order(dosage=quantity(45, "mg"))))
    assert "10× 4.5 mg" in finding(advice, DOSE_OUTSIDE).finding.detail
    advice = review(bundle(order(dosage=quantity(0.45, "mg"))))
    assert "misplaced decimal point" in finding(advice, DOSE_OUTSIDE).finding.detail


def test_the_unread_card_says_what_could_not_be_read() -> None:
    advice = review(bundle(order(dosage=quantity(-4.5, "mg"))))
    detail = finding(advice, DOSE_UNREADABLE).finding.detail
    assert "negative" in detail and "not been checked" in detail


# ---------------------------------------------------------------- which drug the order names

CONTAINED = order(
    {"medicationReference": {"reference": "#med1"}},
    quantity(50, "mg"),
    contained=[
        {
            "resourceType": "Medication",
            "id": "med1",
            "code": {"coding": [{"system": RXNORM, "code": "7243", "display": "naltrexone"}]},
        }
    ],
)
MEDICATION_50 = {
    "resourceType": "Medication",
    "id": "ntx50",
    "code": {
        "coding": [
            {
                "system": RXNORM,
                "code": "1483744",
                "display": "naltrexone hydrochloride 50 MG Oral Tablet",
            }
        ]
    },
}


def by_reference(reference: str) -> dict[str, Any]:
    return order({"medicationReference": {"reference": reference}}, quantity(1, "tablet"))


@pytest.mark.parametrize(
    ("draft", "records"),
    [
        (bundle(CONTAINED), RECORD),
        (bundle(by_reference("Medication/ntx50"), MEDICATION_50), RECORD),
        (
            bundle(
                by_reference("urn:uuid:6f1c"), MEDICATION_50, urls=["urn:uuid:a", "urn:uuid:6f1c"]
            ),
            RECORD,
        ),
        (bundle(by_reference("Medication/ntx50")), [*RECORD, MEDICATION_50]),
    ],
    ids=["contained", "in the draft bundle", "in the bundle by fullUrl", "in the prefetch"],
)
def test_medication_reference_is_followed(
    draft: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    assert len(ldn_draft_orders(draft, records)) == 1
    advice = review(draft, records)
    assert DOSE_OUTSIDE in codes(advice)  # 50 mg: 1 tablet of the 50 mg product, or 50 mg
    # ...and for a patient on oxycodone, the contraindication
    oxy = {
        "resourceType": "MedicationRequest",
        "id": "home-oxy",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": OXYCODONE,
        "subject": {"reference": "Patient/p1"},
    }
    advice = review(draft, [*records, oxy])
    assert advice[0].finding.severity.value == "contraindicated"
    assert "opioid" in advice[0].finding.code
    assert "MedicationRequest/home-oxy" in advice[0].finding.triggered_by


@pytest.mark.parametrize(
    "medication",
    [
        {"medicationCodeableConcept": {"text": "Contrave"}},
        {"medicationCodeableConcept": {"text": "naltrexone hydrochloride / bupropion"}},
        {"medicationCodeableConcept": {"text": "methylnaltrexone bromide 150 MG Oral Tablet"}},
        {"medicationCodeableConcept": {"text": "Relistor"}},
        {"medicationCodeableConcept": {"text": "naloxegol 25 MG Oral Tablet"}},
        concept("863845", "Embeda"),
        {"medicationCodeableConcept": {"text": "morphine sulfate / naltrexone hydrochloride"}},
        {"medicationCodeableConcept": {"text": "naloxone 4 MG nasal spray"}},
        {"medicationCodeableConcept": {"text": "naltrexone and something unknown"}},
    ],
    ids=lambda m: str(m)[:60],
)
def test_other_drugs_are_not_ldn_orders(medication: dict[str, Any]) -> None:
    draft = bundle(order(medication, quantity(50, "mg")))
    assert ldn_draft_orders(draft, RECORD) == []
    assert review(draft) == []  # no card at all, not even for a patient on an opioid


def test_an_opioid_drafted_in_the_same_order_set_is_a_contraindication() -> None:
    oxy = order({"medicationCodeableConcept": OXYCODONE}, quantity(1, "tablet"), ident="oxy")
    advice = review(bundle(order(dosage=quantity(4.5, "mg")), oxy))
    first = advice[0].finding
    assert first.severity.value == "contraindicated" and "opioid" in first.code
    assert "MedicationRequest/oxy" in first.triggered_by


def test_an_opioid_draft_naming_its_medication_by_full_url_is_read() -> None:
    oxy_med = {"resourceType": "Medication", "code": OXYCODONE}
    oxy = order({"medicationReference": {"reference": "urn:uuid:0x1"}}, ident="oxy")
    draft = bundle(order(dosage=quantity(4.5, "mg")), oxy, oxy_med, urls=["", "", "urn:uuid:0x1"])
    assert "opioid" in review(draft)[0].finding.code


def test_a_morphine_naltrexone_draft_is_an_opioid_and_a_second_naltrexone() -> None:
    embeda = order(concept("863845", "Embeda"), quantity(1, "capsule"), ident="embeda")
    advice = review(bundle(order(dosage=quantity(4.5, "mg")), embeda))
    found = codes(advice)
    assert advice[0].finding.severity.value == "contraindicated"
    assert any("opioid" in c for c in found) and "naltrexone-duplicate" in found


def test_the_order_is_not_its_own_duplicate_but_a_second_ldn_draft_is() -> None:
    one = order(dosage=quantity(4.5, "mg"))
    assert "naltrexone-duplicate" not in codes(review(bundle(one)))
    # re-signing: the same order also sits among the active requests of the prefetch
    active = {**copy.deepcopy(one), "status": "active"}
    assert "naltrexone-duplicate" not in codes(review(bundle(one), [*RECORD, active]))
    two = order(dosage=quantity(3, "mg"), ident="draft-2")
    assert "naltrexone-duplicate" in codes(review(bundle(one, two)))


def test_an_unidentified_drug_in_the_order_set_is_listed_as_unchecked() -> None:
    other = order({"medicationCodeableConcept": {"text": "Zorblax 10 mg"}}, ident="x")
    advice = review(bundle(order(dosage=quantity(4.5, "mg")), other))
    unchecked = finding(advice, "medication-unchecked").finding
    assert "MedicationRequest/x" in unchecked.triggered_by


def test_missing_medication_statements_are_said() -> None:
    draft = bundle(order(dosage=quantity(4.5, "mg")))
    advice = review_draft_orders(draft, RECORD, as_of=TODAY, unavailable=["MedicationStatement"])
    assert "MedicationStatement" in finding(advice, RECORD_INCOMPLETE).finding.summary
    assert RECORD_INCOMPLETE not in codes(review(draft))


def test_an_order_for_alcohol_use_disorder_gets_no_dose_advice_but_the_opioid_check() -> None:
    aud = order(dosage=quantity(50, "mg"), reasonCode=[{"text": "Alcohol use disorder"}])
    assert review(bundle(aud)) == []
    oxy = order({"medicationCodeableConcept": OXYCODONE}, ident="oxy")
    assert [a.finding.severity.value for a in review(bundle(aud, oxy))] == ["contraindicated"]


# ---------------------------------------------------------------- the suggestion


def test_the_suggestion_is_a_whole_fillable_compounded_order() -> None:
    draft = order(
        TABLET_50,
        quantity(1, "tablet"),
        encounter={"reference": "Encounter/e1"},
        dispenseRequest={"quantity": {"value": 30, "unit": "tablet"}},
    )
    advice = finding(review(bundle(draft)), DOSE_OUTSIDE)
    assert advice.suggestion is not None
    resource = advice.suggestion.resource
    model = validate_medication_request(resource)  # fhir.resources R4B MedicationRequest
    assert model.id == "draft-1" and resource["subject"] == {"reference": "Patient/p1"}
    assert resource["encounter"] == {"reference": "Encounter/e1"}
    text = resource["medicationCodeableConcept"]["text"]
    assert "compounded" in text and "capsule" in text
    assert "50 MG" not in str(resource["medicationCodeableConcept"]).upper()
    assert "1483744" not in str(resource)  # not the 50 mg tablet product
    doses = [d["doseAndRate"][0]["doseQuantity"]["value"] for d in resource["dosageInstruction"]]
    kb = get_knowledge()
    assert all(
        kb.drug.canonical_low_dose.low <= d <= kb.drug.canonical_low_dose.high for d in doses
    )
    supply = resource["dispenseRequest"]
    assert supply["quantity"]["code"] == "{capsule}" and supply["quantity"]["value"] > 0
    assert supply["expectedSupplyDuration"]["code"] == "d"
    assert draft["dispenseRequest"]["quantity"]["value"] == 30  # the draft itself is untouched


# ---------------------------------------------------------------- the plan


def _step(mg: float, start: str, end: str) -> dict[str, Any]:
    return {
        "timing": {
            "repeat": {
                "frequency": 1,
                "period": 1,
                "periodUnit": "d",
                "when": ["HS"],
                "boundsPeriod": {"start": start, "end": end},
            }
        },
        "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg"}}],
    }


def test_a_titration_order_gets_a_plan_of_its_own_regimen() -> None:
    steps = [
        _step(1.5, "2026-11-02", "2026-11-08"),
        _step(3, "2026-11-09", "2026-11-15"),
        _step(4.5, "2026-11-16", "2027-01-31"),
    ]
    plan = finding(review(bundle(order(dosage=steps))), PLAN).finding
    assert "1.5 mg → 3 mg → 4.5 mg a day at bedtime" in plan.summary
    assert "(as ordered)" in plan.detail
    assert "days 1–7" in plan.detail and "days 8–14" in plan.detail and "days 15–91" in plan.detail
    assert "**Monitoring**" in plan.detail


def test_a_single_dose_order_without_bounds_is_described_as_ordered() -> None:
    plan = finding(review(bundle(order(dosage=quantity(3, "mg")))), PLAN).finding
    assert plan.summary.endswith("3 mg a day")
    assert "length not stated" in plan.detail


# ---------------------------------------------------------------- property: never another drug

_NOT_LDN = [
    p.name
    for p in get_knowledge().terminology.products
    if set(p.ingredients) != {get_knowledge().drug.ingredient}
] + [
    i.name
    for i in get_knowledge().terminology.ingredients
    if i.id != get_knowledge().drug.ingredient
]
_NOT_LDN_CODES = [
    p.rxcui
    for p in get_knowledge().terminology.products
    if p.rxcui and set(p.ingredients) != {get_knowledge().drug.ingredient}
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(_NOT_LDN),
    code=st.none() | st.sampled_from(_NOT_LDN_CODES),
    mg=st.floats(-100, 500, allow_nan=False),
    unit=st.sampled_from(["mg", "tablet", "mcg", "", "mL"]),
    text=st.sampled_from(["", "Take 50 mg daily", "1 tablet at bedtime", "4.5 mg nightly"]),
    with_opioid=st.booleans(),
)
def test_no_advice_for_a_draft_that_is_not_naltrexone_alone(
    name: str, code: str | None, mg: float, unit: str, text: str, with_opioid: bool
) -> None:
    medication = {"medicationCodeableConcept": {"text": name}}
    if code:
        medication["medicationCodeableConcept"]["coding"] = [{"system": RXNORM, "code": code}]
    dosage = [{"text": text, "timing": DAILY,
               "doseAndRate": [{"doseQuantity": {"value": mg, "unit": unit}}]}]  # fmt: skip
    draft = bundle(order(medication, dosage))
    records = [*RECORD]
    if with_opioid:
        records.append(order({"medicationCodeableConcept": OXYCODONE}, ident="oxy"))
    assert ldn_draft_orders(draft, records) == []
    assert review(draft, records) == []


def test_an_order_written_as_ldn_gets_the_opioid_check() -> None:
    """ "LDN 4.5 mg capsule (compounded)" is naltrexone: the order is LDN-type, so an opioid on
    record is a contraindication (the service used to answer nothing)."""
    ldn = {"medicationCodeableConcept": {"text": "LDN 4.5 mg capsule (compounded)"}}
    opioid = {
        "resourceType": "MedicationRequest", "id": "m-oxy", "status": "active",
        "intent": "order", "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": OXYCODONE,
    }  # fmt: skip
    draft = bundle(order(ldn, quantity(4.5, "mg")))
    (found,) = read_draft_orders(draft, RECORD)
    assert found.ldn_type
    advice = review(draft, [*RECORD, opioid])
    assert "opioid-use" in codes(advice)


def test_a_draft_without_a_readable_medicine_is_said_to_be_unchecked() -> None:
    from ldn_derm.regimen.orders import ORDER_MEDICINE_UNKNOWN

    blank = order(dosage=quantity(4.5, "mg"))
    del blank["medicationCodeableConcept"]
    unresolved = {**blank, "id": "draft-2", "medicationReference": {"reference": "Medication/x"}}
    advice = review(bundle(blank, unresolved))
    assert codes(advice) == [ORDER_MEDICINE_UNKNOWN]
    assert finding(advice, ORDER_MEDICINE_UNKNOWN).finding.triggered_by == [
        "MedicationRequest/draft-1",
        "MedicationRequest/draft-2",
    ]
    # a medicine with a name the knowledge base does not know is not this (not ours to judge)
    assert review(bundle(order({"medicationCodeableConcept": {"text": "Fooxol"}}))) == []


def test_records_naming_another_patient_are_said_not_dropped() -> None:
    """An opioid whose subject is mistyped ('patient/p1') is not this patient's to the reader;
    the order service says that such records were left out instead of passing in silence."""
    from ldn_derm.regimen.orders import RECORD_OTHER_PATIENT

    oxy = {
        "resourceType": "MedicationRequest", "id": "home-oxy", "status": "active",
        "intent": "order", "subject": {"reference": "patient/p1"},
        "medicationCodeableConcept": OXYCODONE,
    }  # fmt: skip
    advice = review(bundle(order(dosage=quantity(4.5, "mg"))), [*RECORD, oxy])
    assert "opioid-use" not in codes(advice)
    said = finding(advice, RECORD_OTHER_PATIENT).finding
    assert said.severity.value == "caution" and said.summary.startswith("1 resource(s)")
    assert RECORD_OTHER_PATIENT not in codes(review(bundle(order(dosage=quantity(4.5, "mg")))))
