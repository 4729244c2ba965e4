"""`ldn screen` through the real CLI entry point."""

from __future__ import annotations

import csv
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ldn_derm.cli import run
from ldn_derm.cli.screen import ScreenFormat
from ldn_derm.screen import WorklistFormat

BULK = Path(__file__).resolve().parents[3] / "shared" / "fhir" / "bulk-sample-10"


def test_format_enum_mirrors_the_screen_package() -> None:
    assert [f.value for f in ScreenFormat] == [f.value for f in WorklistFormat]


def test_screens_the_shared_bulk_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not BULK.is_dir():
        pytest.skip(f"shared Synthea bulk export not found in {BULK}")
    out = tmp_path / "worklist.csv"
    assert run(["screen", str(BULK), "--as-of", "2024-08-06", "--out", str(out), "-w", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Screened 13 patient(s)" in printed and "tsh-screening" in printed
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {
        "patient", "code", "severity", "summary", "triggered_by", "references"
    }  # fmt: skip
    summary = out.with_suffix(".html")
    assert stat.S_IMODE(summary.stat().st_mode) == 0o600


def test_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "Patient.000.ndjson").write_text(
        '{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1980-01-01"}\n'
    )
    out = tmp_path / "w.json"
    assert run(["screen", str(folder), "--quiet", "--out", str(out), "-f", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert {row["patient"] for row in json.loads(out.read_text())} == {"p1"}


def test_an_export_without_patients_is_said_even_when_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A nightly job pointed at the wrong folder must not pass for a night with no findings."""
    folder = tmp_path / "empty"
    folder.mkdir()
    out = tmp_path / "w.json"
    assert run(["screen", str(folder), "--quiet", "--out", str(out), "-f", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no patient was screened" in captured.err and str(folder) in captured.err
    assert out.read_text() == "[]\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["screen", "missing-export"], "no such folder"),
        (["screen", ".", "--as-of", "someday"], "--as-of"),
        (["screen", ".", "--workers", "0"], "--workers"),
        (["screen", ".", "--out", "missing/w.csv"], "no such folder"),
        (["screen", ".", "--out", ""], "give a file name"),
        (["screen", ".", "--out", "."], "give a file name"),
        (["screen", ".", "--out", "/tmp"], "is a folder"),
        (["screen", ".", "--out", "w.csv", "--summary", "missing/s.html"], "no such folder"),
        (["screen", ".", "--out", "w.json", "--summary", "./w.json"], "both name"),
        (["screen", ".", "--scratch", "memory://s", "--workers", "2"], "memory://"),
        (["screen", ".", "--scratch", "bogus://x"], "cannot open this location"),
        (["screen", ".", "--scratch", "missing-scratch"], "no such folder"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # refused before any work: nothing written


def test_an_html_worklist_gets_its_summary_beside_it_not_over_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nightly.html"
    assert run(["screen", str(BULK), "--quiet", "--as-of", "2024-08-06", "--out", str(out)]) == 0
    assert out.read_text().startswith("patient,code,severity")  # the worklist (CSV) itself
    assert "<html" in (tmp_path / "nightly.summary.html").read_text()


def test_a_failed_run_leaves_the_previous_worklist_untouched(tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    out.write_text("yesterday's worklist\n")
    summary = tmp_path / "missing" / "s.html"
    argv = ["screen", str(BULK), "--quiet", "--out", str(out), "--summary", str(summary)]
    assert run(argv) == 2
    assert out.read_text() == "yesterday's worklist\n"


def test_help_does_not_import_the_screen_machinery() -> None:
    code = (
        "import sys; from ldn_derm.cli import run; run(['--help']);"
        "heavy = [m for m in ('ldn_derm.screen', 'distributed', 'pyarrow', 'fsspec')"
        " if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
