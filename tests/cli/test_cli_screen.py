"""`ldn screen` through the real CLI entry point."""

from __future__ import annotations

import csv
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
    folder = tmp_path / "empty"
    folder.mkdir()
    assert (
        run(["screen", str(folder), "--quiet", "--out", str(tmp_path / "w.json"), "-f", "json"])
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "w.json").read_text() == "[]\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["screen", "/no/such/export"], "no such folder"),
        (["screen", ".", "--as-of", "someday"], "--as-of"),
        (["screen", ".", "--workers", "0"], "--workers"),
        (["screen", ".", "--out", "/no/such/dir/w.csv"], "no such folder"),
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


def test_help_does_not_import_the_screen_machinery() -> None:
    code = (
        "import sys; from ldn_derm.cli import run; run(['--help']);"
        "heavy = [m for m in ('ldn_derm.screen', 'distributed', 'pyarrow', 'fsspec')"
        " if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
