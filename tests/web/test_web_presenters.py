"""Page view models (ldn_derm.web.presenters) and CDS findings (ldn_derm.web.cds.findings)."""

from __future__ import annotations

from ldn_derm.web.api.schemas import SimulateIn
from ldn_derm.web.presenters import simulation_view


def test_simulation_notes_say_what_was_measured_in_plain_words() -> None:
    view = simulation_view(SimulateIn(doses_mg=[1.5, 4.5], days=2, subjects=50))
    notes = view["notes"]
    # only the curve below the measured range is called an extrapolation
    assert any("the 1.5 mg curves are extrapolations" in n for n in notes)
    assert not any("4.5 mg curves" in n for n in notes)
    assert any("after repeated doses" in n for n in notes)
    # the JSON-only labels (percentiles, field names) stay out of the page
    assert not any("percentile" in n or "measured_data" in n for n in notes)


def test_a_single_dose_in_the_measured_range_has_no_extrapolation_note() -> None:
    notes = simulation_view(SimulateIn(doses_mg=[4.5], days=1, subjects=50))["notes"]
    assert notes == []  # one dose, in the measured range: the page's cited statement says it all


def _record(condition_text: str) -> list[dict[str, object]]:
    return [
        {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1980-01-01"},
        {
            "resourceType": "Condition",
            "id": "c",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"text": condition_text},
            "subject": {"reference": "Patient/p"},
        },
    ]


def _draft(*orders: object) -> dict[str, object]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": o} for o in orders],
    }


NALTREXONE_50 = {
    "resourceType": "MedicationRequest",
    "id": "draft",
    "status": "draft",
    "intent": "order",
    "medicationCodeableConcept": {"text": "naltrexone 50 mg tablet"},
    "dosageInstruction": [
        {
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 50, "unit": "mg"}}],
        }
    ],
}


def test_a_50_mg_order_for_a_condition_studied_only_at_50_mg_gets_no_ldn_cards() -> None:
    from ldn_derm.web.cds.findings import cds_order_findings

    assert cds_order_findings(_record("Prurigo nodularis"), _draft(NALTREXONE_50)) == []


def test_the_dose_warning_cites_the_standard_dose_and_shows_the_plans_assumptions() -> None:
    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.web.cds.findings import cds_order_findings

    kb = get_knowledge()
    findings = cds_order_findings(_record("Hailey-Hailey disease"), _draft(NALTREXONE_50))
    warning = next(f for f in findings if f["severity"] == "caution")
    assert set(kb.drug.standard_dose_refs) <= set(warning["references"])
    plan = next(f for f in findings if f["code"] == "ldn-titration-and-monitoring")
    assert "Assumed: Time of day not given" in plan["detail"]
    assert "*Caveat:" in plan["detail"]  # the knowledge base's caveats travel with the plan
    assert set(kb.drug.statement("bedtime-dosing").refs) <= set(plan["references"])


def _order(mg: float, reason: object = None) -> dict[str, object]:
    order = {**NALTREXONE_50}
    order["dosageInstruction"] = [
        {
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg"}}],
        }
    ]
    if reason is not None:
        order["reasonCode"] = reason
    return order


def test_stated_reasons_decide_whether_an_order_is_ldn() -> None:
    from ldn_derm.web.cds.findings import cds_order_findings

    psoriasis = _record("Psoriasis")
    # naltrexone for alcohol use disorder in a psoriasis patient: not ours to judge
    assert (
        cds_order_findings(psoriasis, _draft(_order(50, [{"text": "Alcohol use disorder"}]))) == []
    )
    # every stated reason is checked, not only the first one recognised
    both = [{"text": "Pruritus in atopic dermatitis"}, {"text": "Psoriasis"}]
    found = cds_order_findings(_record("Lichen planus"), _draft(_order(50, both)))
    assert any("for Psoriasis" in f["summary"] for f in found)
    # malformed reasons are ignored, not a crash
    for bad in (5, [5], [{"coding": 5}], [{"coding": [5]}]):
        assert cds_order_findings(psoriasis, _draft(_order(50, bad)))


def test_the_dose_warning_depends_on_where_the_dose_lies() -> None:
    from ldn_derm.web.cds.findings import cds_order_findings

    def warning(mg: float) -> dict[str, object]:
        found = cds_order_findings(_record("Hailey-Hailey disease"), _draft(_order(mg)))
        return next(f for f in found if f["severity"] == "caution")

    assert "below the low-dose range" in str(warning(1)["summary"])
    assert "standard dose" not in str(warning(1)["detail"])
    assert "above the low-dose range" in str(warning(6.25)["summary"])
    assert "alcohol and opioid use disorder" not in str(warning(6.25)["detail"])
    assert "alcohol and opioid use disorder" in str(warning(50)["detail"])
    assert "Caveat:" in str(warning(50)["detail"])  # higher doses are not always less effective
