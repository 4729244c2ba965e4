"""The prescription package: FHIR MedicationRequest, text, monitoring plan, golden protocols."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.errors import BlockedError, InputError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen import (
    Blocker,
    PatientContext,
    Prescription,
    build_monitoring_plan,
    build_prescription,
    build_regimen,
)

GOLDEN = Path(__file__).parent / "golden"
START = date(2026, 12, 1)

# Two published protocols, fully specified by their sources (plus the tool's stated defaults).
GOLDEN_CASES: dict[str, dict[str, Any]] = {
    "fixed-3mg-lichen-planopilaris-capsule": {
        "condition": "lichen-planopilaris",
        "regimen": {"preset": "fixed-3mg", "days": 90},
        "form": "capsule",
        # the only randomised trial was negative: the evidence must be acknowledged (issue 14)
        "overrides": {"evidence": "patient prefers LDN after discussing the negative trial"},
    },
    "cleveland-hhd-capsule": {
        "condition": "hailey-hailey-disease",
        "regimen": {"preset": "cleveland-hhd", "days": 90},
        "form": "capsule",
    },
}


def _package(case: dict[str, Any]) -> Prescription:
    reg = build_regimen(**case["regimen"], start_date=START)
    return build_prescription(
        case["condition"],
        reg,
        case["form"],
        authored_on=START,
        overrides=case.get("overrides"),
    )


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_protocols(name: str) -> None:
    rx = _package(GOLDEN_CASES[name])
    got = {"schedule": rx.schedule, "medication_request": rx.medication_request}
    path = GOLDEN / f"{name}.json"
    if os.environ.get("LDN_UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert got == expected


def _validate_round_trip(resource: dict[str, Any]) -> MedicationRequest:
    model = MedicationRequest.model_validate(resource)
    again = MedicationRequest.model_validate_json(model.model_dump_json())
    assert again.model_dump() == model.model_dump()
    return again


@st.composite
def packages(draw: st.DrawFn) -> Prescription:
    start = Decimal(draw(st.integers(min_value=15, max_value=45))) / 10
    target = max(start, Decimal(draw(st.integers(min_value=15, max_value=45))) / 10)
    reg = build_regimen(
        target_mg=target,
        start_mg=start,
        step_mg=Decimal(draw(st.integers(min_value=1, max_value=30))) / 10,
        interval_days=draw(st.integers(min_value=1, max_value=45)),
        days=draw(st.integers(min_value=1, max_value=365)),
        time=draw(st.sampled_from(["bedtime", "morning"])),
    )
    return build_prescription(
        draw(st.sampled_from(["psoriasis", "hailey-hailey-disease", "darier-disease"])),
        reg,
        draw(st.sampled_from(["capsule", "liquid"])),
        salt=draw(st.sampled_from(["hcl", "base"])),
        authored_on=date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 900))),
    )


@settings(max_examples=40, deadline=None)
@given(packages())
def test_medication_request_validates_round_trips_and_matches_the_schedule(
    rx: Prescription,
) -> None:
    model = _validate_round_trip(rx.medication_request)
    reg = rx.regimen
    assert model.status == "draft" and model.intent == "order"
    coding = model.medicationCodeableConcept.coding[0]
    assert (coding.system, coding.code) == ("http://www.nlm.nih.gov/research/umls/rxnorm", "7243")
    assert model.medicationCodeableConcept.text.endswith("compounded")
    assert len(model.dosageInstruction) == len(reg.steps)
    for dosage, step in zip(model.dosageInstruction, reg.steps, strict=True):
        repeat = dosage.timing.repeat
        assert repeat.when == [reg.time.fhir_when]
        start, end = reg.step_dates(step)  # type: ignore[misc]
        bounds = repeat.boundsPeriod
        assert (str(bounds.start), str(bounds.end)) == (start.isoformat(), end.isoformat())
        dose = dosage.doseAndRate[0].doseQuantity
        assert Decimal(str(dose.value)) == step.dose_mg
        assert (dose.system, dose.code) == ("http://unitsofmeasure.org", "mg")
    dispense = model.dispenseRequest
    supply, qty = dispense.expectedSupplyDuration, dispense.quantity
    fills = rx.compounding.fills
    value, code = rx.compounding.dispense_quantity
    assert sum(f.days for f in fills) == reg.days and sum(f.quantity for f in fills) == value
    assert dispense.numberOfRepeatsAllowed == len(fills) - 1
    if len(fills) == 1:  # one fill within the beyond-use date: the whole supply, no repeats
        assert (supply.value, supply.code) == (reg.days, "d")
        assert (Decimal(str(qty.value)), qty.code) == (value, code)
        assert dispense.initialFill is None
    else:  # the first fill, then repeats of at most the largest later fill
        first, later = fills[0], fills[1:]
        assert dispense.initialFill.duration.value == first.days
        assert Decimal(str(dispense.initialFill.quantity.value)) == first.quantity
        assert (supply.value, supply.code) == (max(f.days for f in later), "d")
        assert Decimal(str(qty.value)) == max(f.quantity for f in later) and qty.code == code
        assert rx.compounding.fill_plan is not None
        assert all(f.days <= rx.compounding.fill_plan.limit_days for f in fills)
    assert any("Compounding" in n.text for n in model.note)


def test_text_states_dose_basis_both_figures_and_supply() -> None:
    reg = build_regimen(target_mg=4.5, start_mg=1.5, step_mg=1.5, interval_days=14, days=90)
    rx = build_prescription("psoriasis", reg, "capsule", authored_on=START)
    text = rx.text
    assert "naltrexone HCl 1.5 mg and 3 mg and 4.5 mg capsules, compounded" in text
    assert "1.5 mg × 14; 3 mg × 14; 4.5 mg × 62 (total 90 capsules)" in text
    assert "4.5 mg naltrexone HCl = 4.07 mg base" in text
    assert "341.41" in text and "377.86" in text
    assert "360 days" in text
    base = build_prescription("psoriasis", reg, "capsule", salt="base", authored_on=START)
    assert "naltrexone base 1.5 mg" in base.text and "4.98 mg naltrexone HCl" in base.text


def test_monitoring_plan_is_built_from_cited_knowledge() -> None:
    kb = get_knowledge()
    plan = build_monitoring_plan("psoriasis", kb=kb)
    ids = [i.id for i in plan.side_effects]
    assert ids[:3] == ["vivid-dreams", "gi-upset", "headache-anxiety"]
    assert plan.side_effects[0].frequency and "37%" in plan.side_effects[0].frequency
    assert [i.id for i in plan.thyroid] == ["tsh-screening", "thyroid-disease"]
    assert plan.stopping.id == "stopping"
    measures = {m for m, _ in plan.outcome_measures}
    assert {"PASI", "BSA"} <= measures
    assert plan.response_times
    assert set(plan.refs) <= set(kb.references)
    md = plan.markdown(kb)
    assert "## Stopping" in md and "37%" in md and "PASI" in md


def test_contraindication_blocks_unless_overridden_with_a_reason() -> None:
    reg = build_regimen(target_mg=4.5, days=30)
    patient = PatientContext(
        reference="Patient/p1",
        blockers=(
            Blocker(
                code="opioid-analgesics",
                summary="Patient receiving opioid analgesics",
                triggered_by=("MedicationRequest/m1",),
                refs=("label-naltrexone-oral",),
            ),
        ),
    )
    with pytest.raises(BlockedError, match=r"opioid analgesics.*MedicationRequest/m1"):
        build_prescription("psoriasis", reg, "capsule", patient=patient, authored_on=START)
    with pytest.raises(InputError, match="reason"):
        build_prescription(
            "psoriasis", reg, "capsule", patient=patient, override_reason="  ", authored_on=START
        )
    rx = build_prescription(
        "psoriasis",
        reg,
        "capsule",
        patient=patient,
        override_reason="opioid stopped 2 weeks ago; record not updated",
        authored_on=START,
    )
    assert "CONTRAINDICATION OVERRIDDEN" in rx.text
    assert rx.medication_request["subject"]["reference"] == "Patient/p1"
    notes = " ".join(n["text"] for n in rx.medication_request["note"])
    assert "opioid stopped 2 weeks ago" in notes


def test_the_assumed_bedtime_is_cited_in_the_prescription_text() -> None:
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    assumed = build_prescription(
        "psoriasis", build_regimen(target_mg=3, start_date=START), "capsule", authored_on=START
    ).text
    line = next(ln for ln in assumed.splitlines() if "Time of day not given" in ln)
    marks = line.rsplit("[", 1)[1].rstrip("]").split(", ")
    listed = assumed.split("References:", 1)[1].splitlines()
    for mark, ref in zip(marks, kb.drug.statement("bedtime-dosing").refs, strict=True):
        entry = next(ln for ln in listed if ln.strip().startswith(f"{mark}. "))
        assert kb.references[ref].title[:25] in entry
    chosen = build_prescription(
        "psoriasis",
        build_regimen(target_mg=3, time="bedtime", start_date=START),
        "capsule",
        authored_on=START,
    ).text
    assert "Time of day not given" not in chosen


def test_follow_up_advice_names_the_scheme_it_comes_from_not_its_dosing() -> None:
    from ldn_derm.regimen.monitoring import build_monitoring_plan

    reg = build_regimen(target_mg=4.5, start_date=START)
    [item] = build_monitoring_plan("hailey-hailey-disease", reg).follow_up
    assert item.text.startswith("Follow-up every 2-3 months")
    assert "Cleveland Clinic HHD" in item.text  # where the interval was reported
    assert "titrate" not in item.text  # the scheme's dosing is not follow-up advice
    # a psoriasis plan does not borrow it (issue 14): no source reports a psoriasis follow-up
    [other] = build_monitoring_plan("psoriasis", reg).follow_up
    assert "not established" in other.text and not other.refs


def test_compounding_instructions_and_the_default_concentration_are_cited() -> None:
    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    liquid = build_prescription(
        "psoriasis",
        build_regimen(target_mg=3, time="bedtime", start_date=START),
        "liquid",
        authored_on=START,
    )
    text = liquid.text
    capsules = build_prescription(
        "psoriasis",
        build_regimen(target_mg=3, time="bedtime", start_date=START),
        "capsule",
        authored_on=START,
    ).text  # the filler advice (no calcium carbonate, no slow release) is cited
    assert re.search(r"Compounding instructions: \[\d", capsules)
    line = next(ln for ln in text.splitlines() if "Concentration not given" in ln)
    [mark] = re.findall(r"\[(\d+)\]$", line)
    listed = text.split("References:", 1)[1]
    entry = next(ln for ln in listed.splitlines() if ln.strip().startswith(f"{mark}. "))
    assert kb.references["fawcett-1997"].title[:30] in entry


def test_monitoring_plan_gives_the_perioperative_hold_as_standard_dose_guidance() -> None:
    kb = get_knowledge()
    plan = build_monitoring_plan("psoriasis", kb=kb)
    assert [i.id for i in plan.opioids] == [
        "opioid-interactions",
        "overcoming-blockade",
        "perioperative-opioids",
        "perioperative-hold",
    ]
    hold = plan.opioids[-1]
    assert "72 hours (3 days)" in hold.text and "standard-dose oral naltrexone" in hold.text
    assert "No LDN-specific hold time was found" in hold.text
    assert hold.caveat and "applied to LDN by extension" in hold.caveat
    assert {"burns-2022", "goel-2024"} <= set(hold.refs) and hold.certainty == "seen-abstract"
    md = plan.markdown(kb)
    assert "**Before planned surgery.**" in md and "*Caveat:*" in md
    assert "overdose" in md  # the overcoming-the-blockade warning travels with the plan
    data = plan.to_dict()
    assert data["opioids"][-1]["id"] == "perioperative-hold"
