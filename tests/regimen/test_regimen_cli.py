"""`ldn prescribe` / `ldn handout`: one command writes the package; bad input writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ldn_derm.cli import run

GOOD = [
    "prescribe",
    "--condition",
    "hailey-hailey-disease",
    "--preset",
    "albers-2017",
    "--interval-days",
    "14",
    "--form",
    "capsule",
    "--days",
    "90",
    "--start-date",
    "2026-12-01",
]
PACKAGE = {
    "prescription.txt",
    "medication-request.json",
    "schedule.json",
    "monitoring.md",
    "handout.html",
    "handout.pdf",
}


def test_prescribe_writes_the_whole_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rx"
    assert run([*GOOD, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == PACKAGE
    printed = capsys.readouterr().out
    assert "3 mg → 4.5 mg" in printed and "90 capsules" in printed
    schedule = json.loads((out / "schedule.json").read_text())
    assert [s["dose_mg"] for s in schedule["steps"]] == [3.0, 4.5]
    request = json.loads((out / "medication-request.json").read_text())
    assert request["resourceType"] == "MedicationRequest"
    assert (out / "handout.pdf").read_bytes().startswith(b"%PDF-")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_liquid_morning_letter_into_an_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "rx"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = [
        "prescribe", "--condition", "psoriasis", "--target-mg", "4.5", "--start-mg", "1.5",
        "--step-mg", "1.5", "--interval-days", "7", "--time", "morning", "--form", "liquid",
        "--days", "30", "--paper", "letter", "--out", str(out), "--format", "json",
    ]  # fmt: skip
    assert run(args) == 0
    assert {p.name for p in out.iterdir()} == PACKAGE | {"keep.txt"}
    request = json.loads((out / "medication-request.json").read_text())
    assert request["dosageInstruction"][0]["timing"]["repeat"]["when"] == ["MORN"]
    assert request["dispenseRequest"]["quantity"] == {
        "value": 10.5 + 21 + 72,  # 1.5 mL × 7 + 3 mL × 7 + 4.5 mL × 16
        "unit": "mL",
        "system": "http://unitsofmeasure.org",
        "code": "mL",
    }


def test_handout_alone(tmp_path: Path) -> None:
    out = tmp_path / "h"
    args = ["handout", "--condition", "psoriasis", "--preset", "fixed-4-5mg", "--form", "capsule"]
    assert run([*args, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"handout.html", "handout.pdf"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--target-mg", "450"], "100× 4.5 mg"),
        (["--target-mg", "0.0045"], "wrong unit"),
        (["--target-mg", "50"], "not a low dose"),
        (["--target-mg", "4,5"], "comma"),
        (["--target-mg", "0"], "zero"),
        (["--target-mg", "-3"], "negative"),
        (["--target-mg", "4.5", "--start-mg", "1.5"], "needs an interval"),
        (["--target-mg", "3", "--start-mg", "4.5"], "above the target"),
        (["--target-mg", "4.5", "--days", "0"], "between 1 and 365"),
        (["--preset", "albers-2017"], "does not report the titration interval"),
        (["--preset", "nope"], "unknown preset"),
        (["--target-mg", "4.5", "--concentration", "1 mg/mL"], "apply only to --form liquid"),
        (["--target-mg", "4.5", "--start-date", "2026-13-01"], "not a date"),
        (["--target-mg", "4.5", "--patient", "/nonexistent/bundle.json"], "does not exist"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: list[str], message: str
) -> None:
    out = tmp_path / "rx"
    args = ["prescribe", "--condition", "psoriasis", "--form", "capsule", *change]
    assert run([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldn: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_input_leaves_an_existing_folder_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "rx"
    assert run([*GOOD, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = ["prescribe", "--condition", "psoriasis", "--form", "capsule", "--target-mg", "45"]
    assert run([*bad, "--out", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unknown_condition_and_out_that_is_a_file(tmp_path: Path) -> None:
    args = ["prescribe", "--condition", "no-such-disease", "--target-mg", "4.5", "--form"]
    assert run([*args, "capsule", "--out", str(tmp_path / "x")]) == 2
    target = tmp_path / "file"
    target.write_text("x")
    ok = ["prescribe", "--condition", "psoriasis", "--target-mg", "4.5", "--form", "capsule"]
    assert run([*ok, "--out", str(target)]) == 2
    assert target.read_text() == "x"


def test_an_earlier_start_date_does_not_hide_a_medicine_begun_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record is screened as of today (or a later start date), never as of an earlier
    start date: tramadol begun after that date is current now and blocks the prescription."""
    from datetime import date, timedelta

    begun = date.today() - timedelta(days=30)
    record = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female",
                          "birthDate": "1980-01-01"}},
            {"resource": {"resourceType": "MedicationRequest", "id": "m0", "status": "active",
                          "intent": "order", "subject": {"reference": "Patient/p1"},
                          "authoredOn": begun.isoformat(),
                          "medicationCodeableConcept": {"text": "tramadol 50 mg tablet"}}},
        ],
    }  # fmt: skip
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(record))
    start = (begun - timedelta(days=60)).isoformat()
    argv = ["prescribe", "-c", "psoriasis", "--form", "capsule", "--target-mg", "4.5"]
    argv += ["--start-date", start, "--patient", str(path), "--out", str(tmp_path / "rx")]
    assert run(argv) == 2
    assert "tramadol" in capsys.readouterr().err
    assert not (tmp_path / "rx").exists()


@pytest.mark.parametrize(
    "dose", [["--target-mg", "3"], ["--start-mg", "3"], ["--target-mg", "3 mg"]]
)
def test_a_preset_with_a_dose_option_is_never_an_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dose: list[str]
) -> None:
    """A preset's start and target were compared as raw text ("3 mg" against a number)."""
    argv = ["prescribe", "-c", "psoriasis", "--form", "capsule", "--preset", "albers-2017"]
    code = run([*argv, *dose, "--out", str(tmp_path / "rx")])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "internal error" not in err


def test_a_folder_in_the_way_changes_nothing_in_the_package(tmp_path: Path) -> None:
    """One file of an existing package replaced by a folder: the new package is refused
    before any file is replaced (it used to replace some files and stop: a mixed package)."""
    out = tmp_path / "rx"
    assert run([*GOOD, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    (out / "schedule.json").unlink()
    (out / "schedule.json").mkdir()
    assert run([*GOOD, "--days", "60", "--out", str(out)]) == 2
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "schedule.json"}
