"""The one prescribe pipeline (regimen.pipeline.prescribe): the CLI and the web call it, so
the same request and patient give the same prescription or the same refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldn_derm.errors import BlockedError, InputError, LdnError
from ldn_derm.regimen.assessment import patient_context
from ldn_derm.regimen.overrides import Override, OverrideOption
from ldn_derm.regimen.pipeline import PrescriptionRequest, prescribe

SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "fhir" / "synthea"
REASON = "opioid stopped last month; confirmed with the patient"


def _record(prefix: str) -> bytes:
    found = sorted(SYNTHEA.glob(f"{prefix}*.json"))
    if not found:
        pytest.skip(f"Synthea bundle {prefix}* not found in {SYNTHEA}")
    return found[0].read_bytes()


@pytest.mark.parametrize(
    ("request_", "error", "match"),
    [
        (PrescriptionRequest("psoriasis", target_mg=45), LdnError, "misplaced decimal"),
        (PrescriptionRequest("psoriasis", target_mg=6), LdnError, "above-low-dose"),
        (
            PrescriptionRequest("psoriasis", target_mg=4.5, overrides={"evidence": REASON}),
            InputError,
            "nothing in this prescription needs it",
        ),
        (
            PrescriptionRequest("psoriasis", target_mg=4.5, overrides={"contraindication": "x"}),
            InputError,
            "placeholder",
        ),
    ],
    ids=["slip", "above-range", "unneeded-override", "placeholder-reason"],
)
def test_refusals(request_: PrescriptionRequest, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        prescribe(request_)


def test_above_low_dose_needs_its_named_override() -> None:
    reason = "partial response at 4.5 mg for six months; agreed with the patient"
    rx = prescribe(
        PrescriptionRequest("psoriasis", target_mg=6, overrides={"above-low-dose": reason})
    )
    assert [o.option for o in rx.overrides] == [OverrideOption.ABOVE_LOW_DOSE]
    assert rx.regimen.steps[-1].dose_mg == 6


def test_a_contraindicated_patient_is_blocked_until_a_reason_is_recorded() -> None:
    patient = patient_context(_record("Eliseo_Cummings"), name="eliseo.json")
    request = PrescriptionRequest("psoriasis", target_mg=4.5, days=30)
    with pytest.raises(BlockedError, match=r"(?i)opioid"):
        prescribe(request, patient)
    rx = prescribe(
        PrescriptionRequest(
            "psoriasis",
            target_mg=4.5,
            days=30,
            overrides=[Override(OverrideOption.CONTRAINDICATION, REASON)],
        ),
        patient,
    )
    assert rx.override_reason == REASON and rx.patient is patient
