"""Supplies that can be filled: fills within the beyond-use date, the cited vehicle, and sanity
bounds on concentrations and volumes (issue 14, prescribing items 1-2)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.errors import DoseError, InputError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen import build_prescription, build_regimen, compound
from ldn_derm.regimen.fhir import validate_medication_request

START = date(2026, 12, 1)


def _fills_cover_the_schedule(plan: object, days: int, limit: int) -> None:
    fills = plan.fills  # type: ignore[attr-defined]
    assert fills[0].start_day == 1 and fills[-1].end_day == days
    for a, b in itertools.pairwise(fills):
        assert b.start_day == a.end_day + 1
    assert all(1 <= f.days <= limit for f in fills)
    assert len(fills) == -(-days // limit)  # as few fills as the limit allows


def test_a_90_day_liquid_is_two_fills_within_the_60_day_refrigerated_bud() -> None:
    """The defect: one 225-mL dispense, no refills, against a 30/60-day beyond-use date."""
    reg = build_regimen(target_mg=2.5, days=90, start_date=START)
    rx = build_prescription("psoriasis", reg, "liquid", authored_on=START)
    plan = rx.compounding
    assert plan.total_volume_ml == Decimal(225)
    _fills_cover_the_schedule(plan, 90, 60)
    assert [f.quantity for f in plan.fills] == [Decimal("112.5"), Decimal("112.5")]
    dispense = rx.medication_request["dispenseRequest"]
    assert dispense["numberOfRepeatsAllowed"] == 1
    assert dispense["initialFill"]["quantity"]["value"] == 112.5
    assert dispense["initialFill"]["duration"] == {
        "value": 45,
        "unit": "days",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    assert dispense["quantity"]["value"] == 112.5 and dispense["quantity"]["code"] == "mL"
    assert dispense["expectedSupplyDuration"]["value"] == 45
    assert "No refills" not in rx.text
    assert "Fill 1: 112.5 mL (days 1-45)" in rx.text
    assert "Fill 2 (refill): 112.5 mL (days 46-90)" in rx.text


def test_the_vehicle_of_the_cited_stability_study_is_named_and_cited() -> None:
    reg = build_regimen(target_mg=4.5, days=60, start_date=START)
    rx = build_prescription("psoriasis", reg, "liquid", authored_on=START)
    plan = rx.compounding
    assert plan.vehicle is not None
    for ingredient in ("ascorbic acid 0.5 g", "glycerol 20 mL", "preservative at 0.1%"):
        assert ingredient in plan.vehicle
    assert plan.container == "amber plastic bottle"
    assert {"fawcett-formula-woods", "pharminfotech-naltrexone-liquid"} <= set(plan.vehicle_refs)
    assert "Vehicle (the formula of the cited stability study)" in rx.text
    assert "Woods DJ" in rx.text  # the vehicle's source is in the reference list
    assert len(plan.fills) == 1 and "No refills" in rx.text


def test_room_temperature_storage_gives_30_day_fills() -> None:
    reg = build_regimen(target_mg=4.5, days=90, start_date=START)
    plan = compound(reg, "liquid", storage="room-temperature")
    _fills_cover_the_schedule(plan, 90, 30)
    assert plan.fill_plan is not None and plan.fill_plan.cited_bud
    assert "25 °C" in " ".join(s.text for s in plan.stability)
    with pytest.raises(InputError, match="storage must be"):
        compound(reg, "liquid", storage="freezer")
    with pytest.raises(InputError, match="only to liquids"):
        compound(reg, "capsule", storage="refrigerated")


def test_a_liquid_no_study_covers_gets_conventional_fills_and_no_vehicle() -> None:
    reg = build_regimen(target_mg=4.5, days=90, start_date=START)
    plan = compound(reg, "liquid", concentration="2 mg/mL", syringe_graduation_ml="0.05 mL")
    assert plan.vehicle is None and plan.fill_plan is not None
    assert not plan.fill_plan.cited_bud and plan.fill_plan.limit_days == 30
    assert "Program convention" in plan.fill_plan.basis
    assert any("no vehicle is cited" in i for i in plan.instructions)


def test_capsules_beyond_their_360_day_bud_are_split() -> None:
    reg = build_regimen(target_mg=4.5, days=365, start_date=START)
    rx = build_prescription("psoriasis", reg, "capsule", authored_on=START)
    assert [f.days for f in rx.compounding.fills] == [183, 182]
    assert rx.medication_request["dispenseRequest"]["numberOfRepeatsAllowed"] == 1
    other = compound(build_regimen(target_mg=4.5, days=365), "capsule", filler="lactose")
    assert other.fill_plan is not None and other.fill_plan.limit_days == 180  # Cote abstract
    assert [f.days for f in other.fills] == [122, 122, 121]


@settings(max_examples=60, deadline=None)
@given(
    days=st.integers(1, 365),
    form=st.sampled_from(["capsule", "liquid"]),
    storage=st.sampled_from(["refrigerated", "room-temperature"]),
    titrate=st.booleans(),
)
def test_fills_always_add_up_and_stay_within_the_limit(
    days: int, form: str, storage: str, titrate: bool
) -> None:
    if titrate:
        reg = build_regimen(
            target_mg=4.5, start_mg=1.5, step_mg=1.5, interval_days=14, days=days, start_date=START
        )
    else:
        reg = build_regimen(target_mg=4.5, days=days, start_date=START)
    plan = compound(reg, form, storage=storage if form == "liquid" else None)
    assert plan.fill_plan is not None
    _fills_cover_the_schedule(plan, days, plan.fill_plan.limit_days)
    total, _ = plan.dispense_quantity
    assert sum(f.quantity for f in plan.fills) == total
    if form == "capsule":
        for fill in plan.fills:
            assert sum(n for _, n in fill.capsules) == fill.quantity == fill.days
    rx = build_prescription("psoriasis", reg, form, storage=plan.storage, authored_on=START)
    validate_medication_request(rx.medication_request)
    dispense = rx.medication_request["dispenseRequest"]
    assert dispense["numberOfRepeatsAllowed"] == len(plan.fills) - 1
    assert ("initialFill" in dispense) == (len(plan.fills) > 1)


@pytest.mark.parametrize(
    ("concentration", "message"),
    [
        ("1 mg/L", r"0\.001 mg/mL \('1 mg/L'\) is below the lowest.*4500 mL.*mg/mL meant"),
        ("0.1 mg/mL", r"below the lowest this program accepts \(0\.5 mg/mL"),
        ("20 mg/mL", r"above the highest this program accepts \(5 mg/mL"),
        ("1 g/mL", r"1000 mg/mL.*above the highest"),
    ],
)
def test_implausible_concentrations_are_refused(concentration: str, message: str) -> None:
    reg = build_regimen(target_mg=4.5, days=90)
    with pytest.raises(DoseError, match=message):
        compound(reg, "liquid", concentration=concentration)


def test_a_dose_volume_over_one_syringe_is_refused() -> None:
    reg = build_regimen(target_mg=6, days=30, allow_above_low_dose=True)
    with pytest.raises(DoseError, match=r"6 mg dose at 0\.5 mg/mL is 12 mL, more than 10 mL"):
        compound(reg, "liquid", concentration="0.5 mg/mL")
    assert compound(reg, "liquid", concentration="1 mg/mL").liquid[0].volume_ml == 6


def test_bounds_are_cited_or_stated_as_conventions() -> None:
    rules = get_knowledge().protocols.dose_rules
    for rule in (
        rules.titration_floor_mg,
        rules.concentration_low_mg_per_ml,
        rules.concentration_high_mg_per_ml,
        rules.max_dose_volume_ml,
        *rules.fill_days_without_bud.values(),
    ):
        assert rule.refs or "Program convention" in rule.basis
