"""Titration schedules and compounding: every count and volume adds up to the schedule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.errors import DoseError, InputError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen import DoseTime, Form, Regimen, build_regimen, compound
from ldn_derm.regimen.compounding import SaltBasis, salt_figures

LOW, HIGH = Decimal("1.5"), Decimal("4.5")
dose_ug = st.integers(min_value=1500, max_value=4500)  # 1.5-4.5 mg on a 1 µg grid
step_ug = st.integers(min_value=50, max_value=3000)
tenth_mg = st.integers(min_value=15, max_value=45).map(lambda n: Decimal(n) / 10)


@st.composite
def regimens(draw: st.DrawFn, tenths: bool = False) -> Regimen:
    """Random titrations; with `tenths`, every dose and step is a multiple of 0.1 mg."""
    doses = tenth_mg if tenths else dose_ug.map(lambda n: Decimal(n) / 1000)
    a, b = draw(doses), draw(doses)
    start, target = min(a, b), max(a, b)
    step = Decimal(draw(step_ug)) / 1000
    if tenths:
        step = max(Decimal("0.1"), step.quantize(Decimal("0.1")))
    return build_regimen(
        target_mg=target,
        start_mg=start,
        step_mg=step,
        interval_days=draw(st.integers(min_value=1, max_value=60)),
        days=draw(st.integers(min_value=1, max_value=365)),
        time=draw(st.sampled_from(list(DoseTime))),
        start_date=date(2026, 1, 1),
    )


def _daily(reg: Regimen) -> list[Decimal]:
    return [reg.dose_on(day) for day in range(1, reg.days + 1)]


@settings(max_examples=150, deadline=None)
@given(regimens())
def test_schedule_covers_every_day_within_the_target_and_range(reg: Regimen) -> None:
    assert reg.steps[0].start_day == 1 and reg.steps[-1].end_day == reg.days
    for prev, nxt in zip(reg.steps, reg.steps[1:], strict=False):
        assert nxt.start_day == prev.end_day + 1
        assert nxt.dose_mg > prev.dose_mg  # titration only goes up
    for step in reg.steps:
        assert step.days >= 1
        assert step.dose_mg <= reg.target_mg
        assert LOW <= step.dose_mg <= HIGH
    assert sum(_daily(reg)) == reg.total_mg


@settings(max_examples=150, deadline=None)
@given(regimens(), st.sampled_from(list(SaltBasis)))
def test_capsule_counts_add_up_exactly(reg: Regimen, salt: SaltBasis) -> None:
    plan = compound(reg, Form.CAPSULE, salt=salt)
    assert plan.total_capsules == reg.days  # one capsule per daily dose
    assert sum(c.strength_mg * c.count for c in plan.capsules) == reg.total_mg
    daily = _daily(reg)
    for line in plan.capsules:
        assert line.count == daily.count(line.strength_mg)
        assert line.strength_mg <= reg.target_mg
    assert plan.dispense_quantity == (Decimal(reg.days), "{capsule}")


@settings(max_examples=150, deadline=None)
@given(regimens(tenths=True))
def test_liquid_volumes_add_up_exactly(reg: Regimen) -> None:
    plan = compound(reg, Form.LIQUID)  # 1 mg/mL, 0.1 mL syringe: 0.1 mg doses are exact
    assert plan.concentration_mg_per_ml == Decimal(1)
    assert sum(line.days for line in plan.liquid) == reg.days
    assert plan.total_volume_ml == sum(line.volume_ml * line.days for line in plan.liquid)
    assert plan.total_volume_ml * plan.concentration_mg_per_ml == reg.total_mg
    for line, step in zip(plan.liquid, reg.steps, strict=True):
        assert line.delivered_mg == step.dose_mg
        assert line.volume_ml % Decimal("0.1") == 0


@settings(max_examples=100, deadline=None)
@given(regimens(), st.sampled_from(["1 mg/mL", "0.5 mg/mL", "2 mg/mL"]))
def test_liquid_doses_are_measurable_or_refused(reg: Regimen, conc: str) -> None:
    try:
        plan = compound(reg, Form.LIQUID, concentration=conc)
    except DoseError as exc:
        assert "cannot be measured" in str(exc)
        return
    assert plan.total_volume_ml == sum(line.volume_ml * line.days for line in plan.liquid)
    for line in plan.liquid:
        assert line.volume_ml % Decimal("0.1") == 0
        assert abs(line.delivered_mg - line.dose_mg) <= line.dose_mg * Decimal("0.05")


def test_titration_steps_and_cap_at_target() -> None:
    reg = build_regimen(target_mg=4.5, start_mg=1.5, step_mg=1, interval_days=7, days=60)
    assert [(s.dose_mg, s.start_day, s.days) for s in reg.steps] == [
        (Decimal("1.5"), 1, 7),
        (Decimal("2.5"), 8, 7),
        (Decimal("3.5"), 15, 7),
        (Decimal("4.5"), 22, 39),
    ]
    assert reg.time is DoseTime.BEDTIME
    assert any("Time of day not given" in a for a in reg.assumptions)


def test_short_supply_says_target_not_reached() -> None:
    reg = build_regimen(target_mg=4.5, start_mg=1.5, step_mg=1.5, interval_days=30, days=40)
    assert [s.dose_mg for s in reg.steps] == [Decimal("1.5"), Decimal("3")]
    assert not reg.reaches_target
    assert any("not reached" in n for n in reg.notes)


def test_presets_and_their_missing_parameters() -> None:
    kb = get_knowledge()
    ids = {p.id for p in kb.protocols.protocols}
    assert {"cleveland-hhd", "albers-2017", "fixed-3mg", "fixed-4-5mg"} <= ids
    for proto in kb.protocols.protocols:
        assert set(proto.refs) <= set(kb.references)
        assert set(proto.conditions) <= set(kb.conditions)
    with pytest.raises(InputError, match="does not report the titration interval"):
        build_regimen(preset="albers-2017")
    reg = build_regimen(preset="albers-2017", interval_days=14, days=90)
    assert [s.dose_mg for s in reg.steps] == [Decimal(3), Decimal("4.5")]
    assert reg.refs == ("albers-2017",)
    fixed = build_regimen(preset="fixed-3mg", days=30)
    assert [(s.dose_mg, s.days) for s in fixed.steps] == [(Decimal(3), 30)]
    with pytest.raises(InputError, match="unknown preset"):
        build_regimen(preset="bihari")


def test_morning_and_custom_schedules() -> None:
    reg = build_regimen(steps=[("1.5 mg", 7), ("3000 mcg", 7), (4.5, 16)], time="morning")
    assert reg.days == 30 and reg.time is DoseTime.MORNING and reg.target_mg == Decimal("4.5")
    assert reg.time.fhir_when == "MORN"
    with pytest.raises(DoseError, match="above the target"):
        build_regimen(steps=[(4.5, 7)], target_mg=3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"target_mg": 3, "start_mg": 4.5}, DoseError, "above the target"),
        ({"target_mg": 4.5, "start_mg": 1.5}, InputError, "needs an interval"),
        ({"target_mg": 4.5, "days": 0}, InputError, "between 1 and 365"),
        ({"target_mg": 4.5, "days": 400}, InputError, "between 1 and 365"),
        ({"target_mg": 4.5, "time": "noon"}, InputError, "bedtime' or 'morning"),
        ({"target_mg": "4.5"}, DoseError, "no unit"),
        (
            {"target_mg": 4.5, "start_mg": 1.5, "step_mg": "0 mg", "interval_days": 7},
            DoseError,
            "above zero",
        ),
        ({}, InputError, "target dose"),
    ],
)
def test_bad_regimens(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        build_regimen(**kwargs)  # type: ignore[arg-type]


def test_salt_and_base_figures_use_the_cited_molar_masses() -> None:
    kb = get_knowledge()
    hcl = salt_figures(Decimal(50), SaltBasis.HCL, kb)
    assert hcl.base_mg == Decimal("45.18")  # 50 × 341.41 / 377.86 (CALIBRATION.md: 45.2)
    base = salt_figures(Decimal("4.5"), SaltBasis.BASE, kb)
    assert base.hcl_mg == Decimal("4.98")


def test_beyond_use_dates_only_where_a_source_supports_them() -> None:
    reg = build_regimen(target_mg=4.5, days=90)
    caps = compound(reg, "capsule")
    assert [s.days for s in caps.stability] == [360]
    assert "cote-2018-stability" in caps.stability[0].refs
    lactose = compound(reg, "capsule", filler="lactose")
    assert [s.days for s in lactose.stability] == [None]
    assert "No beyond-use date is supported" in lactose.stability[0].text
    odd = compound(reg, "liquid", concentration="0.5 mg/mL")
    assert odd.stability[0].days is None  # no BUD; split at the stated convention only
    assert odd.fill_plan is not None and not odd.fill_plan.cited_bud
    liquid = compound(reg, "liquid")  # refrigerated by default: the 60-day finding
    assert [s.days for s in liquid.stability] == [60, 60]  # the finding, then the split
    assert "split into 2 fills of at most 60 days" in liquid.stability[1].text
    room = compound(reg, "liquid", storage="room-temperature")
    assert [s.days for s in room.stability] == [30, 30] and len(room.fills) == 3


def test_default_bedtime_is_cited_from_the_knowledge_base() -> None:
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    basis = kb.drug.statement("bedtime-dosing")
    reg = build_regimen(target_mg=3)
    assert reg.time is DoseTime.BEDTIME
    assert reg.timing_refs == tuple(basis.refs)
    (said,) = [a for a in reg.assumptions if a.startswith("Time of day not given")]
    for ref in basis.refs:
        assert kb.references[ref].short() in said
    assert reg.to_dict()["timing_references"] == list(basis.refs)


def test_a_chosen_time_needs_no_timing_citation() -> None:
    reg = build_regimen(target_mg=3, time="morning")
    assert reg.time is DoseTime.MORNING
    assert reg.timing_refs == ()
    assert not any(a.startswith("Time of day") for a in reg.assumptions)
