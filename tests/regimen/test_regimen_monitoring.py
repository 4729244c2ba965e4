"""Follow-up comes from a source about the condition, or is said to be not established
(issue 14: the psoriasis follow-up was borrowed from a Hailey-Hailey series)."""

from __future__ import annotations

import pytest

from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen import build_monitoring_plan

KB = get_knowledge()


def test_psoriasis_follow_up_is_not_borrowed_from_hailey_hailey() -> None:
    plan = build_monitoring_plan("psoriasis")
    assert [i.id for i in plan.follow_up] == ["follow-up-not-established"]
    assert "not established" in plan.follow_up[0].text
    assert "cleveland-hhd-series" not in plan.refs
    text = plan.markdown(KB)
    assert "2-3 months" not in text and "Cleveland" not in text
    # the response checks that are cited stay: measures and time to response from psoriasis studies
    assert "PASI" in text and "Marked improvement at 3 months" in text


def test_hailey_hailey_follow_up_comes_from_its_own_series() -> None:
    plan = build_monitoring_plan("hailey-hailey-disease")
    assert [i.id for i in plan.follow_up] == ["follow-up-cleveland-hhd"]
    assert "every 2-3 months" in plan.follow_up[0].text
    assert plan.follow_up[0].refs == ("cleveland-hhd-series",)


@pytest.mark.parametrize("condition", sorted(KB.conditions))
def test_every_follow_up_is_cited_for_its_condition_or_not_established(condition: str) -> None:
    for item in build_monitoring_plan(condition).follow_up:
        if item.refs:
            proto = next(p for p in KB.protocols.protocols if item.id == f"follow-up-{p.id}")
            assert condition in proto.conditions
        else:
            assert "not established" in item.text


def test_no_psoriasis_titration_preset_without_a_source() -> None:
    """Psoriasis studies gave 4.5 mg from the start (Bridgman 2018, Weinstock 2020): the only
    psoriasis preset is the fixed dose."""
    psoriasis = [p for p in KB.protocols.protocols if "psoriasis" in p.conditions]
    assert [p.id for p in psoriasis] == ["fixed-4-5mg"]
    assert all(p.start_mg == p.target_mg for p in psoriasis)
