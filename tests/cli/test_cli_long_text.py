"""`ldn assess` prints in time linear in the record's text, however long and unbroken.

rich's automatic highlighter backtracked on long unbroken strings: a 40,000-character
medication id took 22 s to print. The budget here is generous (machine load varies); the old
behaviour needed minutes for these 200,000 characters.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ldn_derm.cli import run

LONG = 200_000


def _bundle(tmp_path: Path, text: str) -> Path:
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1980-01-01", "gender": "female"}
    medication = {
        "resourceType": "MedicationRequest",
        "id": "M" + text,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"text": "oxycodone " + text},
    }
    condition = {
        "resourceType": "Condition",
        "id": "C" + text,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "subject": {"reference": "Patient/p"},
        "code": {"text": "psoriasis " + text},
    }
    entries = [{"resource": r} for r in (patient, medication, condition)]
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("char", ["A", "/", "1", "-"])
def test_assess_text_output_of_a_200k_unbroken_string_is_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], char: str
) -> None:
    path = _bundle(tmp_path, char * LONG)
    started = time.perf_counter()
    assert run(["assess", str(path)]) == 0
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    assert "M" + char * 1000 in out.replace("\n", "")  # the id is printed, not dropped
    assert elapsed < 5, f"{elapsed:.1f} s"
