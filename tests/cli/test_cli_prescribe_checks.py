"""`ldn prescribe`: the opioid-free start date from a real FHIR bundle (issue 13), named overrides
and the checks of issue 14 as a user meets them (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ldn_derm.cli import run

OXY_APAP = "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet"
BASE = ["prescribe", "--condition", "psoriasis", "--target-mg", "4.5", "--form", "capsule"]


def _bundle(tmp_path: Path, end: str) -> Path:
    """A patient whose oxycodone MedicationStatement ended on `end`."""
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-03-02"},
        {
            "resourceType": "MedicationStatement",
            "id": "m1",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "1049221",
                        "display": OXY_APAP,
                    }
                ]
            },
            "effectivePeriod": {"start": "2026-11-20", "end": end},
        },
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(bundle))
    return path


def test_a_start_3_days_after_the_last_opioid_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The defect: a start 3 days after the last opioid was accepted despite the 7-10 day rule."""
    out = tmp_path / "rx"
    args = [*BASE, "--patient", str(_bundle(tmp_path, "2026-11-28"))]
    assert run([*args, "--start-date", "2026-12-01", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldn: error: prescription blocked: start date 2026-12-01")
    assert "MedicationStatement/m1" in err and "ended 2026-11-28" in err
    assert "earliest allowed start date is 2026-12-09" in err
    assert "'opioid-free-interval'" in err and not out.exists()
    assert run([*args, "--start-date", "2026-12-09", "--out", str(out)]) == 0


def test_the_opioid_free_override_is_written_into_the_package(tmp_path: Path) -> None:
    out = tmp_path / "rx"
    reason = "single postoperative dose only; patient informed of withdrawal risk"
    args = [*BASE, "--patient", str(_bundle(tmp_path, "2026-11-28")), "--start-date", "2026-12-01"]
    assert run([*args, "--override", f"opioid-free-interval: {reason}", "--out", str(out)]) == 0
    text = (out / "prescription.txt").read_text()
    assert "OPIOID-FREE INTERVAL OVERRIDDEN (option 'opioid-free-interval')" in text
    assert reason in text
    request = json.loads((out / "medication-request.json").read_text())
    assert any("Override 'opioid-free-interval'" in n["text"] for n in request["note"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--override", "opioid-free-interval: x"], "placeholder"),
        (["--override-reason", "x"], "placeholder"),
        (["--override", "evidence: patient declined every systemic option"], "nothing in this"),
        (["--target-mg", "6", "--allow-standard-dose"], "does not cover it"),
        (["--form", "liquid", "--concentration", "1 mg/L"], "0.001 mg/mL"),
        (["--storage", "refrigerated"], "apply only to --form liquid"),
        (["--condition", "uremic-pruritus"], "override option 'evidence'"),
        (["--target-mg", "0.5"], "only as a titration step"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "rx"
    assert run([*BASE, "--start-date", "2026-12-01", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldn: error:") and message in err and "Traceback" not in err
    assert not out.exists()


def test_a_liquid_package_states_its_fills(tmp_path: Path) -> None:
    out = tmp_path / "rx"
    args = [*BASE, "--form", "liquid", "--days", "90", "--start-date", "2026-12-01"]
    assert run([*args, "--format", "json", "--out", str(out)]) == 0
    schedule = json.loads((out / "schedule.json").read_text())
    fills = schedule["compounding"]["fills"]
    assert [f["days"] for f in fills] == [45, 45] and schedule["compounding"]["refills"] == 1
    assert schedule["compounding"]["vehicle"].startswith("per 100 mL")
