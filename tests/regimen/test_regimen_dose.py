"""Dose validation: units, the slips that turn 4.5 mg into 450, and the low-dose range."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.errors import DoseError
from ldn_derm.regimen import validate_dose

# doses in the program's low-dose range (1.5-4.5 mg), on a 0.001 mg grid
in_range_ug = st.integers(min_value=1500, max_value=4500)


@pytest.mark.parametrize(
    ("written", "mg"),
    [
        ("4.5 mg", "4.5"),
        ("4.5mg", "4.5"),
        ("4500 mcg", "4.5"),
        ("4500 µg", "4.5"),
        ("4500 μg", "4.5"),  # Greek mu, as keyboards often produce
        ("4500 ug", "4.5"),
        ("0.0045 g", "4.5"),
        ("1.5 mg", "1.5"),
        ("4.5 MG", "4.5"),  # capitals, as labels print them (pint read MG as megagauss)
        ("4500 MCG", "4.5"),
        (3, "3"),
        (4.5, "4.5"),
        (Decimal("2.25"), "2.25"),
    ],
)
def test_accepts_low_doses_in_any_mass_unit(written: object, mg: str) -> None:
    assert validate_dose(written).mg == Decimal(mg)  # type: ignore[arg-type]


def test_volume_needs_a_concentration() -> None:
    with pytest.raises(DoseError, match="concentration"):
        validate_dose("4.5 mL")
    assert validate_dose("4.5 mL", concentration="1 mg/mL").mg == Decimal("4.5")
    assert validate_dose("3 mL", concentration="500 mcg/mL").mg == Decimal("1.5")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("0.0045 mg", "looks like 4.5 mg written in the wrong unit"),
        ("4.5 mcg", "looks like 4.5 mg written in the wrong unit"),
        ("450 mg", "450 mg is 100× 4.5 mg"),
        ("45 mg", "45 mg is 10× 4.5 mg"),
        ("4500 mg", "4500 mg is 1000× 4.5 mg"),
        ("0.45 mg", "0.45 mg is 1/10 of 4.5 mg"),
        ("0.03 mg", "0.03 mg is 1/100 of 3 mg"),
        ("50 mg", "not a low dose.*commercial tablet strength"),
        ("75 mg", "not a low dose"),
        ("4.5", "has no unit.*'4.5 mg'"),
        ("4,5 mg", "comma"),
        ("0 mg", "is zero"),
        ("-4.5 mg", "is negative"),
        ("abc", "not a number followed by a unit"),
        ("4.5 zorks", "unknown unit"),
        ("4.5 furlongs", "not a mass or a volume"),
        ("4.5 kg", "above even the standard"),
        ("4.5 s", "not a mass or a volume"),
        ("1 mg", "below the low-dose range"),
        ("6 mg", "above the low-dose range"),
        ("2.0005 mg", "more precise than 1 microgram"),
        ("", "no dose given"),
    ],
)
def test_refuses_with_a_message_naming_the_slip(written: str, expected: str) -> None:
    with pytest.raises(DoseError, match=expected):
        validate_dose(written)


def test_standard_dose_only_when_explicitly_allowed() -> None:
    with pytest.raises(DoseError, match="not a low dose"):
        validate_dose("50 mg")
    assert validate_dose("50 mg", allow_standard_dose=True).mg == Decimal(50)
    with pytest.raises(DoseError, match=r"100× 4\.5 mg"):  # never above the standard maximum
        validate_dose("450 mg", allow_standard_dose=True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True])
def test_non_numbers_are_refused(bad: object) -> None:
    with pytest.raises(DoseError):
        validate_dose(bad)  # type: ignore[arg-type]


@given(in_range_ug)
def test_same_dose_in_mg_mcg_and_g_agrees(ug: int) -> None:
    mg = Decimal(ug) / 1000
    as_mg = validate_dose(f"{mg} mg").mg
    assert as_mg == mg
    assert validate_dose(f"{ug} mcg").mg == as_mg
    assert validate_dose(f"{Decimal(ug) / 1000000} g").mg == as_mg


@given(in_range_ug, st.sampled_from([10, 100, 1000]))
def test_power_of_ten_slips_are_named(ug: int, factor: int) -> None:
    mg = Decimal(ug) / 1000
    with pytest.raises(DoseError) as too_big:
        validate_dose(f"{mg * factor} mg")
    with pytest.raises(DoseError) as too_small:
        validate_dose(f"{mg / factor} mg")
    assert "×" in str(too_big.value) or "not a low dose" in str(too_big.value)
    assert "1/" in str(too_small.value) or "wrong unit" in str(too_small.value)


def test_an_absurd_magnitude_is_written_short() -> None:
    """A target of 1e-300 mg was echoed as a decimal of three hundred digits."""
    from ldn_derm.regimen.dose import fmt_mg

    assert fmt_mg(1e-300) == "1e-300"
    assert [fmt_mg(x) for x in (4.5, 3, 0.75, Decimal("1.50"), 0)] == [
        "4.5",
        "3",
        "0.75",
        "1.5",
        "0",
    ]
