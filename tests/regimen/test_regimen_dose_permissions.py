"""Doses outside the low-dose range, each allowed only by what its permission says (issue 14,
prescribing items 3-4): cited 0.5-mg starts as titration steps, the standard-dose flag limited to
the standard dose, and doses between the two behind their own override."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ldn_derm.errors import DoseError
from ldn_derm.regimen import build_prescription, build_regimen, validate_dose

START = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("dose", "permissions", "accepted", "message"),
    [
        # titration steps below the range: from the cited floor only, and only as steps
        ("0.5 mg", {}, False, r"0\.5 mg up to 1\.5 mg is accepted only as a titration step"),
        ("0.5 mg", {"titration_step": True}, True, None),
        ("1 mg", {"titration_step": True}, True, None),
        ("0.45 mg", {"titration_step": True}, False, r"lowest titration step.*1/10 of 4\.5 mg"),
        ("0.25 mg", {"titration_step": True}, False, r"below even the lowest titration step"),
        # the standard-dose flag unlocks the standard dose only
        ("6 mg", {"allow_standard_dose": True}, False, r"allowing the standard dose does not"),
        ("45 mg", {"allow_standard_dose": True}, False, r"45 mg is 10× 4\.5 mg"),
        ("12.5 mg", {"allow_standard_dose": True}, False, r"own override \(above-low-dose\)"),
        ("50 mg", {"allow_standard_dose": True}, True, None),
        ("100 mg", {"allow_standard_dose": True}, True, None),
        ("450 mg", {"allow_standard_dose": True}, False, r"above even the standard"),
        # doses between the range and the standard dose have their own permission
        ("6 mg", {}, False, r"above the low-dose range.*below the standard dose"),
        ("6 mg", {"allow_above_low_dose": True}, True, None),
        ("50 mg", {"allow_above_low_dose": True}, False, r"not a low dose"),
        ("4.5 mg", {}, True, None),
        ("1.5 mg", {}, True, None),
    ],
)
def test_each_permission_unlocks_only_its_own_doses(
    dose: str, permissions: dict[str, bool], accepted: bool, message: str | None
) -> None:
    if accepted:
        assert validate_dose(dose, **permissions).mg == Decimal(dose.split()[0])
    else:
        with pytest.raises(DoseError, match=message):
            validate_dose(dose, **permissions)


def test_a_cited_half_milligram_start_titrates_to_a_target_in_range() -> None:
    reg = build_regimen(
        target_mg=4.5, start_mg=0.5, step_mg=0.5, interval_days=7, days=90, start_date=START
    )
    assert reg.steps[0].dose_mg == Decimal("0.5")
    assert reg.below_range_steps == (Decimal("0.5"), Decimal("1.0"))
    assert reg.below_range_refs == ("ldnrt-dosing-2020",)
    rx = build_prescription("psoriasis", reg, "liquid", authored_on=START)
    assert "take 0.5 mL (0.5 mg)" in rx.text
    assert "Titration step(s) below the low-dose range" in rx.text
    assert "LDN Research Trust" in rx.text  # the floor's source is cited


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_mg": 0.5},  # a lone target below the range
        {"target_mg": 1, "start_mg": 0.5, "step_mg": 0.5, "interval_days": 7},
        {"steps": [("0.5 mg", 7), ("1 mg", 23)]},  # a custom schedule ending below the range
    ],
)
def test_a_target_below_the_range_is_still_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(DoseError, match="below the low-dose range"):
        build_regimen(**kwargs)  # type: ignore[arg-type]


def test_custom_steps_may_start_at_the_floor() -> None:
    reg = build_regimen(steps=[("0.5 mg", 7), ("1.5 mg", 7), ("3 mg", 16)])
    assert reg.target_mg == 3 and reg.below_range_steps == (Decimal("0.5"),)


def test_the_standard_dose_flag_does_not_unlock_6_mg_in_a_regimen() -> None:
    with pytest.raises(DoseError, match="does not cover it"):
        build_regimen(target_mg=6, allow_standard_dose=True)


def test_above_low_dose_needs_the_named_override_in_the_prescription() -> None:
    reg = build_regimen(target_mg=6, days=30, allow_above_low_dose=True, start_date=START)
    with pytest.raises(DoseError, match=r"override option 'above-low-dose'"):
        build_prescription("psoriasis", reg, "capsule", authored_on=START)
    reason = "partial response after six months at 4.5 mg"
    rx = build_prescription(
        "psoriasis", reg, "capsule", authored_on=START, overrides={"above-low-dose": reason}
    )
    assert "(option 'above-low-dose')" in rx.text and reason in rx.text
    notes = " ".join(n["text"] for n in rx.medication_request["note"])
    assert "Override 'above-low-dose'" in notes and reason in notes
