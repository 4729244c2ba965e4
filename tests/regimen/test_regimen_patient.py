"""With --patient the assessment runs first: a contraindication blocks the prescription."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ldn_derm.cli import run

SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "fhir" / "synthea"


def _bundle(prefix: str) -> Path:
    found = sorted(SYNTHEA.glob(f"{prefix}*.json"))
    if not found:
        pytest.skip(f"Synthea bundle {prefix}* not found in {SYNTHEA}")
    return found[0]


ARGS = ["prescribe", "--condition", "psoriasis", "--preset", "fixed-4-5mg", "--form", "capsule"]
ARGS += ["--start-date", "2026-12-01"]


def test_contraindicated_patient_is_blocked_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rx"
    bundle = _bundle("Eliseo_Cummings_55c373ad")  # current opioid analgesic in the record
    assert run([*ARGS, "--patient", str(bundle), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldn: error: prescription blocked:") and "opioid" in err.lower()
    assert "MedicationRequest/" in err  # names the record that triggered it
    assert not out.exists()


@pytest.mark.parametrize("override", [[], ["--override-reason", "patient seen alive in clinic"]])
def test_deceased_patient_is_refused_and_no_override_lifts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: list[str]
) -> None:
    out = tmp_path / "rx"
    bundle = _bundle("Chet_Thompson_eda17701")  # died in 1968; an opioid order too
    assert run([*ARGS, "--patient", str(bundle), *override, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldn: error: prescription refused: The record says this patient has died")
    assert "correct the record first" in err and "No override lifts this" in err
    assert "override option" not in err  # nothing offers a way past it
    assert not out.exists()


def test_override_with_a_reason_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "rx"
    bundle = _bundle("Eliseo_Cummings_55c373ad")  # living; a current opioid order
    reason = "opioid course finished last month; record not yet updated"
    args = [*ARGS, "--patient", str(bundle), "--override-reason", reason, "--out", str(out)]
    assert run(args) == 0
    text = (out / "prescription.txt").read_text()
    assert "CONTRAINDICATION OVERRIDDEN" in text and reason in text
    request = json.loads((out / "medication-request.json").read_text())
    assert request["subject"]["reference"].startswith("Patient/")
    assert any(reason in n["text"] for n in request["note"])


def test_patient_without_contraindication_gets_a_subject(tmp_path: Path) -> None:
    out = tmp_path / "rx"
    bundle = _bundle("Alberto_Atencio_fc712d1f")
    assert run([*ARGS, "--patient", str(bundle), "--out", str(out)]) == 0
    request = json.loads((out / "medication-request.json").read_text())
    assert request["subject"]["reference"] == "Patient/4e8ed886-fd5f-40bb-8feb-f339b04d853a"


def test_unreadable_patient_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bundle.json"
    bad.write_text("{not json")
    out = tmp_path / "rx"
    assert run([*ARGS, "--patient", str(bad), "--out", str(out)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert not out.exists()


def _write_bundle(tmp_path: Path, medications: list[str]) -> Path:
    entries: list[dict[str, object]] = [
        {
            "resource": {
                "resourceType": "Patient",
                "id": "p1",
                "gender": "male",
                "birthDate": "1970-01-01",
            }
        },
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c1",
                "subject": {"reference": "Patient/p1"},
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"text": "Psoriasis vulgaris"},
            }
        },
    ]
    for i, text in enumerate(medications):
        entries.append(
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": f"m{i}",
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": "Patient/p1"},
                    "authoredOn": "2026-11-01",
                    "medicationCodeableConcept": {"text": text},
                }
            }
        )
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


def test_unchecked_medicines_are_named_on_the_prescription(tmp_path: Path) -> None:
    out = tmp_path / "rx"
    bundle = _write_bundle(
        tmp_path, ["Fooxol", "Zzyzx forte", "Hydrochlorothiazide 25 MG Oral Tablet"]
    )
    assert run([*ARGS, "--patient", str(bundle), "--out", str(out)]) == 0
    text = (out / "prescription.txt").read_text()
    assert "Screen:      INCOMPLETE — 2 medicine(s)" in text
    assert "- Fooxol" in text and "- Zzyzx forte" in text and "Hydrochlorothiazide" not in text
    request = json.loads((out / "medication-request.json").read_text())
    assert any("INCOMPLETE" in n["text"] and "Fooxol" in n["text"] for n in request["note"])


def test_screened_record_and_no_record_say_so(tmp_path: Path) -> None:
    screened = tmp_path / "screened"
    bundle = _write_bundle(tmp_path, ["Hydrochlorothiazide 25 MG Oral Tablet"])
    assert run([*ARGS, "--patient", str(bundle), "--out", str(screened)]) == 0
    assert "the patient record was screened" in (screened / "prescription.txt").read_text()
    bare = tmp_path / "bare"
    assert run([*ARGS, "--out", str(bare)]) == 0
    text = (bare / "prescription.txt").read_text()
    assert "NOT DONE — no patient record was screened" in text
