"""Hostile input to the CLI: a one-line `ldn: error: ...` and status 2, never a traceback,
never "internal error", and nothing half-written.

/proc refuses every write (even for root), so it stands in for an unwritable place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ldn_derm.cli import run

RX = ["prescribe", "-c", "psoriasis", "--form", "capsule", "--target-mg", "4.5"]
SIM = ["simulate", "--dose", "4.5", "--subjects", "20", "--hours", "24"]
UNWRITABLE = Path("/proc")


def _fails_cleanly(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> str:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldn: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    assert needle in err, err
    return err


needs_proc = pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs Linux /proc")


@needs_proc
@pytest.mark.parametrize("out", ["/proc", "/proc/ldn-no-such-folder"])
def test_prescribe_to_an_unwritable_place_is_an_input_error(
    capsys: pytest.CaptureFixture[str], out: str
) -> None:
    _fails_cleanly(capsys, [*RX, "--out", out], "cannot write the package")


def test_prescribe_far_future_start_date_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "pkg"
    _fails_cleanly(capsys, [*RX, "--start-date", "9999-12-31", "--out", str(out)], "start date")
    assert not out.exists()


def test_prescribe_into_an_existing_folder_leaves_no_temporary_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert run([*RX, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "keep.txt" in names and "prescription.txt" in names
    assert not [n for n in names if n.endswith(".tmp")]


@pytest.mark.parametrize("out", ["", "   "])
def test_prescribe_with_an_empty_out_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty --out once meant the current folder
    _fails_cleanly(capsys, [*RX, "--out", out], "--out is empty")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(20)
def test_simulate_huge_titration_step_is_refused_quickly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fails_cleanly(capsys, ["simulate", "--titration", "1.5:1000000000"], "at most")


@pytest.mark.timeout(20)
def test_simulate_too_many_compare_doses_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    doses = ",".join(["4.5"] * 500)
    _fails_cleanly(capsys, [*SIM, "--compare", doses], "--compare takes at most")


@needs_proc
def test_simulate_plot_to_an_unwritable_place_is_an_input_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fails_cleanly(capsys, [*SIM, "--plot", "/proc/ldn-occupancy.png"], "cannot write the figure")


@needs_proc
def test_db_backup_to_an_unwritable_place_is_an_input_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LDN_DATABASE_URL", raising=False)
    monkeypatch.setenv("LDN_DATA_DIR", str(tmp_path / "data"))
    assert run(["db", "upgrade"]) == 0
    capsys.readouterr()
    _fails_cleanly(capsys, ["db", "backup", "/proc/ldn-backup.db"], "cannot write the backup")
    folder = tmp_path / "afolder"
    folder.mkdir()
    _fails_cleanly(capsys, ["db", "backup", str(folder), "--force"], "is a folder")


def test_control_characters_in_a_record_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An escape sequence in a medication name (cursor up, erase line) could hide the lines
    above it, such as an incomplete screen; it is shown as U+FFFD instead."""
    import json

    hostile = "Zorbex\x1b[1A\x1b[2K\x07\x9b2J 5 mg"
    entries = [
        {"resource": {"resourceType": "Patient", "id": "p", "gender": "female",
                      "birthDate": "1980-01-01"}},
        {"resource": {"resourceType": "MedicationRequest", "id": "m", "status": "active",
                      "intent": "order", "subject": {"reference": "Patient/p"},
                      "medicationCodeableConcept": {"text": hostile}}},
    ]  # fmt: skip
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    assert run(["assess", str(path), "--as-of", "2026-06-01"]) == 0
    out = capsys.readouterr()
    assert "Zorbex" in out.out
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in out.out and control not in out.err


def test_an_unknown_migration_revision_is_an_input_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LDN_DATABASE_URL", raising=False)
    monkeypatch.setenv("LDN_DATA_DIR", str(tmp_path / "data"))
    _fails_cleanly(capsys, ["db", "upgrade", "--revision", "nope"], "revision 'nope'")
    assert run(["db", "upgrade"]) == 0
    _fails_cleanly(capsys, ["db", "downgrade", "nope", "--yes"], "revision 'nope'")
