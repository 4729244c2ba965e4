"""Input validation at the registry's boundary: ranges, clear messages, field names."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.errors import InputError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry.errors import RegistryInputError
from ldn_derm.registry.schemas import MAX_DOSE_MG, CourseIn, PatientIn, UserIn, VisitIn, parse
from ldn_derm.registry.vocab import MEASURES, Measure, default_primary_measure


def visit(**kw: Any) -> dict[str, Any]:
    return {"visit_date": "2025-02-01", "dose_mg": 3, "dose_time": "bedtime", **kw}


def test_max_dose_is_the_top_of_the_standard_range_in_the_knowledge_base() -> None:
    assert get_knowledge().drug.standard_dose.high == MAX_DOSE_MG


@pytest.mark.parametrize("measure", list(Measure))
def test_each_measure_accepts_its_whole_range(measure: Measure) -> None:
    spec = MEASURES[measure]
    extra = {"investigator_global_scale": "iga"} if measure is Measure.GLOBAL else {}
    for value in (spec.low, spec.high):
        parsed = parse(VisitIn, visit(**{measure.value: value}, **extra), "visit")
        assert parsed.measures()[measure] == value


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("itch_nrs", 11, "Itch NRS: must be between 0 and 10 (got 11)"),
        ("itch_nrs", -1, "Itch NRS: must be between 0 and 10 (got -1)"),
        ("itch_nrs", 4.5, "Itch NRS: must be a whole number (got 4.5)"),
        ("pasi", 72.1, "PASI: must be between 0 and 72 (got 72.1)"),
        ("bsa_percent", 101, "BSA %: must be between 0 and 100 (got 101)"),
        ("bsa_percent", 100.0000001, "BSA %: must be between 0 and 100 (got 100.0000001)"),
        ("dlqi", 31, "DLQI: must be between 0 and 30 (got 31)"),
        ("lppai", 10.5, "LPPAI: must be between 0 and 10 (got 10.5)"),
        ("dose_mg", 150, "Dose (mg/day): must be between 0 and 100 mg/day (got 150)"),
    ],
)
def test_out_of_range_values_are_refused_with_the_field_named(
    field: str, value: float, expected: str
) -> None:
    with pytest.raises(RegistryInputError) as err:
        parse(VisitIn, visit(**{field: value}), "visit")
    assert expected in str(err.value)
    assert field in err.value.fields
    assert isinstance(err.value, InputError)  # the CLI and web map it like any input error


def test_a_global_score_needs_its_scale() -> None:
    with pytest.raises(RegistryInputError) as err:
        parse(VisitIn, visit(investigator_global=3), "visit")
    assert "which global scale" in str(err.value)
    assert "investigator_global_scale" in err.value.fields


def test_side_effects_are_listed_once_and_from_the_vocabulary() -> None:
    twice = [{"effect": "headache"}, {"effect": "headache", "severity": "severe"}]
    with pytest.raises(RegistryInputError, match="once per visit"):
        parse(VisitIn, visit(side_effects=twice), "visit")
    with pytest.raises(RegistryInputError, match="side_effects"):
        parse(VisitIn, visit(side_effects=[{"effect": "hiccups"}]), "visit")


def test_future_dates_and_unknown_fields_are_refused() -> None:
    with pytest.raises(RegistryInputError, match="in the future"):
        parse(VisitIn, visit(visit_date="2999-01-01"), "visit")
    with pytest.raises(RegistryInputError, match="extra_field"):
        parse(VisitIn, visit(extra_field=1), "visit")


def test_regimen_errors_name_the_regimen_field() -> None:
    data = {
        "condition_id": "psoriasis",
        "start_date": "2025-01-01",
        "regimen": {"start_dose_mg": 1.5, "target_dose_mg": 450},
    }
    with pytest.raises(RegistryInputError) as err:
        parse(CourseIn, data, "new course")
    assert "Regimen target dose (mg/day)" in str(err.value)
    steps = {
        "start_dose_mg": 1.5,
        "target_dose_mg": 4.5,
        "steps": [{"day": 14, "dose_mg": 3}, {"day": 7, "dose_mg": 1.5}],
    }
    with pytest.raises(RegistryInputError, match="in order of day"):
        parse(CourseIn, {**data, "regimen": steps}, "new course")


def test_patient_and_user_rules() -> None:
    with pytest.raises(RegistryInputError, match="Given name"):
        parse(PatientIn, {"given_name": " ", "family_name": "X", "birth_date": "1980-01-01"}, "p")
    with pytest.raises(RegistryInputError, match="clinician needs a clinic"):
        parse(UserIn, {"username": "ann", "password": "12345678", "role": "clinician"}, "user")
    with pytest.raises(RegistryInputError, match="Password"):
        parse(UserIn, {"username": "ann", "password": "short", "role": "admin"}, "user")


@given(
    st.sampled_from(list(Measure)),
    st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False),
)
def test_a_measure_is_accepted_exactly_when_in_range_and_integral_if_required(
    measure: Measure, value: float
) -> None:
    spec = MEASURES[measure]
    ok = spec.low <= value <= spec.high and (not spec.integer or value == int(value))
    extra = {"investigator_global_scale": "pga"} if measure is Measure.GLOBAL else {}
    try:
        parse(VisitIn, visit(**{measure.value: value}, **extra), "visit")
        accepted = True
    except RegistryInputError:
        accepted = False
    assert accepted == ok


def test_default_primary_measures_follow_the_conditions() -> None:
    kb = get_knowledge()
    assert default_primary_measure("psoriasis") is Measure.PASI
    for cond in kb.conditions:
        measure = default_primary_measure(cond)
        if "hailey" in cond:
            assert measure is Measure.GLOBAL
        elif "planopilaris" in cond:
            assert measure is Measure.LPPAI
        elif "pruritus" in cond:
            assert measure is Measure.ITCH_NRS


# ------------------------------------------------------------------ the prescribing dose check


@pytest.mark.parametrize(
    ("dose", "message"),
    [
        (45, r"45 mg is 10× 4\.5 mg"),  # the defect: a 45 mg visit was accepted
        (0.45, r"0\.45 mg is 1/10 of 4\.5 mg"),
        (6, r"above the low-dose range"),
        (50, r"not a low dose"),
        (0.25, r"below even the lowest titration step"),
    ],
)
def test_visit_doses_get_the_prescribing_check_and_its_slip_hint(dose: float, message: str) -> None:
    with pytest.raises(RegistryInputError, match=message) as err:
        parse(VisitIn, visit(dose_mg=dose), "visit")
    assert "Dose (mg/day)" in str(err.value) and "low-dose courses only" in str(err.value)
    assert "override" not in str(err.value)  # the registry has none to offer


@pytest.mark.parametrize("dose", [0, 0.5, 1, 1.5, 3, 4.5])
def test_paused_titration_and_in_range_visit_doses_are_accepted(dose: float) -> None:
    assert parse(VisitIn, visit(dose_mg=dose), "visit").dose_mg == dose


def test_a_regimen_target_must_lie_in_the_range_but_may_start_lower() -> None:
    data = {"condition_id": "psoriasis", "start_date": "2025-01-01"}
    ok = parse(CourseIn, {**data, "regimen": {"start_dose_mg": 0.5, "target_dose_mg": 4.5}}, "c")
    assert ok.regimen.start_dose_mg == 0.5
    with pytest.raises(RegistryInputError, match=r"Regimen target dose.*below the low-dose"):
        parse(CourseIn, {**data, "regimen": {"start_dose_mg": 0.5, "target_dose_mg": 1}}, "c")
