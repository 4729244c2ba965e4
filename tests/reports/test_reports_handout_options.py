"""The handout's option grid: LDN next to the traditional options for the condition, in plain
words, cited, and personal when a patient record was assessed."""

from __future__ import annotations

import re
from datetime import date

import pytest

from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen import Prescription, build_prescription, build_regimen
from ldn_derm.regimen.assessment import patient_context
from ldn_derm.reports.handout import handout_context, render_handout_html

AS_OF = date(2026, 6, 1)


def _rx(condition: str = "psoriasis", profile: str | None = None) -> Prescription:
    patient = None
    if profile is not None:
        patient = patient_context(profile.encode(), as_of=AS_OF, name="profile.yaml")
    reg = build_regimen(target_mg=4.5, start_mg=1.5, step_mg=1.5, interval_days=14, days=90)
    # the grid is shown whatever the evidence; evidence that does not support LDN must be
    # acknowledged before prescribing (and only then)
    ack = {"evidence": "Discussed the lack of low-dose evidence; patient chose to try LDN"}
    needs_ack = condition in {"atopic-dermatitis-pruritus"}
    return build_prescription(
        condition,
        reg,
        "capsule",
        authored_on=AS_OF,
        patient=patient,
        overrides=ack if needs_ack else None,
    )


def test_grid_puts_ldn_first_then_the_psoriasis_options() -> None:
    grid = handout_context(_rx())["options"]
    ids = [row["id"] for row in grid["rows"]]
    kb = get_knowledge()
    assert ids == ["ldn", *(c.id for c in kb.comparators.values() if "psoriasis" in c.conditions)]
    assert "dupilumab" not in ids and grid["alternatives"] and not grid["personal"]
    for row in grid["rows"]:
        assert row["evidence"]["lines"] or row["id"] in {
            "cyclosporine",
            "apremilast",
            "il23-inhibitors",
            "ustekinumab",
        }
        assert row["risks"]["lines"] and row["risks"]["cite"], row["id"]
        assert row["tests"]["lines"], row["id"]
    ldn = grid["rows"][0]
    assert "published report" in ldn["evidence"]["lines"][0]


def test_every_grid_citation_is_in_the_reference_list() -> None:
    context = handout_context(_rx())
    numbers = {
        int(n)
        for row in context["options"]["rows"]
        for cell in ("evidence", "tests", "risks")
        for n in re.findall(r"\d+", row[cell]["cite"])
    }
    assert numbers and max(numbers) <= len(context["references"])


def test_condition_without_a_comparison_says_so() -> None:
    html = render_handout_html(_rx("hailey-hailey-disease"))
    assert 'id="option-ldn"' in html and 'id="option-methotrexate"' not in html
    assert "does not hold a comparison" in html


def test_not_pregnant_woman_is_told_acitretin_is_not_advised_for_her() -> None:
    profile = "sex: female\nage: 30\npregnancy: not-pregnant\nconditions: [psoriasis]\n"
    html = render_handout_html(_rx(profile=profile))
    assert "<th>For you</th>" in html
    row = html[html.index('id="option-acitretin"') : html.index('id="option-cyclosporine"')]
    assert "Not advised for you" in row and "3 years" in row
    ldn_row = html[html.index('id="option-ldn"') : html.index('id="option-methotrexate"')]
    assert "Nothing in your record stands against it." in ldn_row


@pytest.mark.parametrize("condition", ["psoriasis", "atopic-dermatitis-pruritus"])
def test_grid_rows_carry_plain_words_not_codes(condition: str) -> None:
    for row in handout_context(_rx(condition))["options"]["rows"]:
        text = " ".join(row["evidence"]["lines"] + row["tests"]["lines"] + row["risks"]["lines"])
        assert "level A" not in text and "AAD-NPF" not in text, row["id"]
