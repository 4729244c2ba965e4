"""Page view models built in ldn_derm.web.domain."""

from __future__ import annotations

from ldn_derm.web.api.schemas import SimulateIn
from ldn_derm.web.domain import simulation_view


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
    from ldn_derm.web.domain import cds_order_findings

    assert cds_order_findings(_record("Prurigo nodularis"), [NALTREXONE_50]) == []


def test_the_dose_warning_cites_the_standard_dose_and_shows_the_plans_assumptions() -> None:
    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.web.domain import cds_order_findings

    kb = get_knowledge()
    findings = cds_order_findings(_record("Hailey-Hailey disease"), [NALTREXONE_50])
    warning = next(f for f in findings if f["severity"] == "warning")
    assert set(kb.drug.standard_dose_refs) <= set(warning["references"])
    plan = next(f for f in findings if f["code"] == "ldn-titration-and-monitoring")
    assert "Assumed: Time of day not given" in plan["detail"]
    assert "*Caveat:" in plan["detail"]  # the knowledge base's caveats travel with the plan
    assert set(kb.drug.statement("bedtime-dosing").refs) <= set(plan["references"])
