"""Overrides that mean something (issue 14 item 5), the indication's evidence acknowledged
(item 6) and the opioid-free start date (issue 13)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.errors import BlockedError, InputError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen import PatientContext, build_prescription, build_regimen
from ldn_derm.regimen.checks import EvidenceLevel, RecentOpioid, evidence_status
from ldn_derm.regimen.overrides import OverrideOption, check_reason, parse_override
from ldn_derm.regimen.prescription import Blocker

START = date(2026, 12, 1)
KB = get_knowledge()
GOOD = "patient informed of the risk and agrees"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "needs a reason in words"),
        ("   ", "needs a reason in words"),
        ("x", "placeholder"),
        ("n/a", "placeholder"),
        ("OK", "placeholder"),
        ("test test test test", "placeholder"),
        ("override reason", "placeholder"),
        ("lorem ipsum dolor", "placeholder"),
        ("stopped", "too short"),
        ("pt ok now", "too short"),
        ("12345 678 91011", "too short"),
    ],
)
def test_reasons_that_say_nothing_are_refused(reason: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_reason(OverrideOption.CONTRAINDICATION, reason, KB)


@pytest.mark.parametrize(
    "reason",
    [GOOD, "oxycodone stopped two weeks ago", "  record not yet updated by the GP  "],
)
def test_reasons_in_words_are_accepted(reason: str) -> None:
    assert check_reason(OverrideOption.CONTRAINDICATION, reason, KB) == " ".join(reason.split())


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("L",)), max_size=40))
def test_text_without_letters_is_never_a_reason(text: str) -> None:
    with pytest.raises(InputError):
        check_reason(OverrideOption.EVIDENCE, text, KB)


def test_override_text_names_a_known_option() -> None:
    assert parse_override(f"evidence: {GOOD}", KB).option is OverrideOption.EVIDENCE
    with pytest.raises(InputError, match="unknown override option 'dose'"):
        parse_override(f"dose: {GOOD}", KB)
    with pytest.raises(InputError, match="'OPTION: reason'"):
        parse_override(GOOD, KB)


def test_every_option_is_described_in_the_knowledge_base() -> None:
    assert {o.id for o in KB.protocols.overrides.options} == {o.value for o in OverrideOption}


BLOCKED = PatientContext(
    reference="Patient/p1",
    blockers=(Blocker(code="opioid-use", summary="current opioid analgesic", refs=()),),
)


def test_a_contraindication_override_names_its_option_and_refuses_x() -> None:
    reg = build_regimen(target_mg=4.5, days=30, start_date=START)
    with pytest.raises(BlockedError, match="override option 'contraindication'"):
        build_prescription("psoriasis", reg, "capsule", patient=BLOCKED, authored_on=START)
    with pytest.raises(InputError, match="placeholder"):
        build_prescription(
            "psoriasis", reg, "capsule", patient=BLOCKED, override_reason="x", authored_on=START
        )
    rx = build_prescription(
        "psoriasis", reg, "capsule", patient=BLOCKED, override_reason=GOOD, authored_on=START
    )
    assert "CONTRAINDICATION OVERRIDDEN (option 'contraindication')" in rx.text
    assert [(o.option, o.reason) for o in rx.overrides] == [(OverrideOption.CONTRAINDICATION, GOOD)]
    notes = " ".join(n["text"] for n in rx.medication_request["note"])
    assert "Override 'contraindication' (Contraindication:" in notes


def test_an_override_nothing_needs_is_refused() -> None:
    reg = build_regimen(target_mg=4.5, days=30, start_date=START)
    with pytest.raises(InputError, match="'contraindication' given, but nothing"):
        build_prescription("psoriasis", reg, "capsule", override_reason=GOOD, authored_on=START)


# ------------------------------------------------------------------ evidence status


@pytest.mark.parametrize("condition", sorted(KB.conditions))
def test_every_condition_without_low_dose_benefit_needs_acknowledgment(condition: str) -> None:
    status = evidence_status(KB.conditions[condition], KB)
    reg = build_regimen(target_mg=4.5, days=30, start_date=START)
    if status.level is EvidenceLevel.SUPPORTED:
        rx = build_prescription(condition, reg, "capsule", authored_on=START)
        assert f"Evidence:    {status.text}" in rx.text
        return
    with pytest.raises(BlockedError, match="override option 'evidence'"):
        build_prescription(condition, reg, "capsule", authored_on=START)
    rx = build_prescription(
        condition, reg, "capsule", authored_on=START, overrides={"evidence": GOOD}
    )
    assert "EVIDENCE STATUS ACKNOWLEDGED (option 'evidence')" in rx.text
    assert status.text in rx.text and GOOD in rx.text


@pytest.mark.parametrize(
    ("condition", "level"),
    [
        ("uremic-pruritus", EvidenceLevel.HIGHER_DOSE_ONLY),  # Peer 1996 improved at 50 mg
        ("nail-lichen-planus", EvidenceLevel.NO_IMPROVEMENT),
        ("lichen-planopilaris", EvidenceLevel.NEGATIVE_CONTROLLED),  # the RCT, despite series
        ("lichen-planus", EvidenceLevel.NO_STUDY),
        ("chronic-pruritus", EvidenceLevel.HIGHER_DOSE_ONLY),
        ("psoriasis", EvidenceLevel.SUPPORTED),
    ],
)
def test_evidence_levels_come_from_the_evidence_table(condition: str, level: EvidenceLevel) -> None:
    assert evidence_status(KB.conditions[condition], KB).level is level


# ------------------------------------------------------------------ opioid-free start date


def _patient(*opioids: RecentOpioid) -> PatientContext:
    return PatientContext(reference="Patient/p1", recent_opioids=opioids)


ENDED = RecentOpioid(
    text="oxycodone 5 mg",
    ref="MedicationStatement/m1",
    last_date=date(2026, 11, 28),
    end_known=True,
)


@pytest.mark.parametrize(
    ("start", "allowed"),
    [
        (date(2026, 11, 28), False),  # the day it ended
        (date(2026, 12, 1), False),  # 3 days after: the defect
        (date(2026, 12, 8), False),  # 10th day after: only 9 opioid-free days before it
        (date(2026, 12, 9), True),  # 10 full opioid-free days (label: 7-10)
        (date(2027, 1, 15), True),
    ],
)
def test_the_start_date_must_lie_outside_the_opioid_free_interval(
    start: date, allowed: bool
) -> None:
    reg = build_regimen(target_mg=4.5, days=30, start_date=start)
    if allowed:
        rx = build_prescription("psoriasis", reg, "capsule", patient=_patient(ENDED))
        assert rx.opioid_window is None
        return
    with pytest.raises(BlockedError) as err:
        build_prescription("psoriasis", reg, "capsule", patient=_patient(ENDED))
    message = str(err.value)
    assert "oxycodone 5 mg (MedicationStatement/m1), ended 2026-11-28" in message
    assert "earliest allowed start date is 2026-12-09" in message
    assert "override option 'opioid-free-interval'" in message


def test_the_latest_of_several_opioids_counts() -> None:
    later = RecentOpioid("tramadol 50 mg", "MedicationRequest/m2", date(2026, 11, 30), True)
    reg = build_regimen(target_mg=4.5, days=30, start_date=date(2026, 12, 9))
    with pytest.raises(BlockedError, match=r"tramadol 50 mg.*earliest allowed start.*2026-12-11"):
        build_prescription("psoriasis", reg, "capsule", patient=_patient(ENDED, later))


def test_an_opioid_without_a_stop_date_cannot_be_counted_from() -> None:
    undated = RecentOpioid("Norco", "MedicationRequest/m3", date(2026, 11, 1), end_known=False)
    reg = build_regimen(target_mg=4.5, days=30, start_date=START)
    with pytest.raises(BlockedError, match=r"cannot be checked.*Norco.*stop date not recorded"):
        build_prescription("psoriasis", reg, "capsule", patient=_patient(undated))


def test_the_opioid_free_override_is_recorded_with_the_window() -> None:
    reg = build_regimen(target_mg=4.5, days=30, start_date=START)
    reason = "single oxycodone dose after dental extraction; patient informed"
    rx = build_prescription(
        "psoriasis",
        reg,
        "capsule",
        patient=_patient(ENDED),
        overrides={"opioid-free-interval": reason},
    )
    assert "OPIOID-FREE INTERVAL OVERRIDDEN (option 'opioid-free-interval')" in rx.text
    assert "earliest allowed start date is 2026-12-09" in rx.text and reason in rx.text
    assert "label-naltrexone-mallinckrodt" in {r for r in rx.opioid_window.refs}  # type: ignore[union-attr]
