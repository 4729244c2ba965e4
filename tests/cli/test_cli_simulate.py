"""`ldn simulate` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ldn_derm.cli import run

FAST = ["--subjects", "200"]


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert run(["simulate", *argv, *FAST, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def test_json_shape_for_a_bedtime_dose(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["--dose", "4.5", "--clock", "22:00", "--hours", "48"])
    regimen = data["regimen"]
    assert isinstance(regimen, dict) and regimen["first_dose_clock"] == "22:00"
    points = data["points"]
    assert isinstance(points, list) and len(points) == 481  # 48 h in 6-minute steps
    first, two_h = points[0], points[20]
    assert first["t_h"] == 0 and first["occupancy"] == 0
    assert two_h["clock"] == "00:00"
    for key in ("occupancy", "occupancy_p5", "occupancy_p95", "occupancy_plasma_model"):
        assert 0 <= two_h[key] <= 1
    assert two_h["occupancy_p5"] <= two_h["occupancy"] <= two_h["occupancy_p95"]
    assert two_h["naltrexone_ng_ml"] > 0 and two_h["naltrexol_ng_ml"] > 0
    summary = data["summary"]
    assert isinstance(summary, dict)
    assert set(summary) >= {"hours_above_50pct", "hours_above_90pct", "peak", "trough"}
    labels = data["labels"]
    assert isinstance(labels, dict)
    assert labels["occupancy"].startswith("predicted")
    assert "never below 2 mg" in labels["measured"]
    assert "summary_plasma_model" in data and data["measured_data"]


def test_repeated_dosing_with_missed_dose(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["--dose", "3", "--every", "24", "--count", "5", "--miss", "3"])
    doses = data["regimen"]["doses"]  # type: ignore[index]
    assert [d["t_h"] for d in doses] == [0, 24, 72, 96]
    assert data["regimen"]["missed"] == [3]  # type: ignore[index]
    assert data["regimen"]["missed_t_h"] == [48]  # type: ignore[index]
    assert "repeated_dosing" in data["labels"]  # type: ignore[operator]


def test_titration_and_explicit_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["--titration", "1.5:2,3:2,4.5:1", "--hours", "120"])
    doses = data["regimen"]["doses"]  # type: ignore[index]
    assert [d["dose_mg"] for d in doses] == [1.5, 1.5, 3, 3, 4.5]
    data = _json(capsys, ["--schedule", "0:1.5,12:3", "--hours", "24"])
    assert [d["t_h"] for d in data["regimen"]["doses"]] == [0, 12]  # type: ignore[index]
    data = _json(capsys, ["--dose", "2", "--at", "0,30", "--at", "50", "--hours", "60"])
    assert [d["t_h"] for d in data["regimen"]["doses"]] == [0, 30, 50]  # type: ignore[index]


def test_compare_adds_one_entry_per_dose(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["--dose", "4.5", "--compare", "1.5,50", "--hours", "24"])
    compare = data["compare"]
    assert isinstance(compare, list) and [c["dose_mg"] for c in compare] == [1.5, 50]
    peak = [c["summary"]["peak"] for c in compare]
    assert peak[0] < peak[1]


def test_text_output_says_what_is_measured_and_what_is_predicted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["simulate", "--dose", "1.5", "--clock", "21:30", *FAST]) == 0
    out = " ".join(capsys.readouterr().out.split())  # undo Rich's line wrapping
    assert "plasma-driven bound" in out and "default model" in out
    assert "No occupancy has ever been measured below" in out
    assert "below the lowest measured dose" in out
    assert "21:30" in out


def test_calibration_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", "--calibration", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["default_within_tolerance"] for r in rows)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dose", "-1"], "more than 0"),
        (["--dose", "nan"], "finite"),
        (["--dose", "4.5", "--subjects", "0"], "at least 1"),
        (["--dose", "4.5", "--subjects", "1000000000"], "limit"),
        (["--dose", "4.5", "--clock", "25:99"], "time of day"),
        (["--dose", "4.5", "--clock", "late"], "HH:MM"),
        (["--dose", "4.5", "--every", "24"], "--count"),
        (["--dose", "4.5", "--miss", "2"], "repeated"),
        (["--titration", "1.5:x"], "not a number"),
        (["--titration", "1.5:7", "--dose", "3"], "drop --dose"),
        (["--dose", "4.5", "--plot", "figure.pdf"], ".png or .svg"),
        (["--dose", "4.5", "--hours", "nan"], "finite"),
        ([], "--dose"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldn: error:") and message in err


def test_plot_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "occ.png"
    argv = ["simulate", "--dose", "4.5", "--clock", "22:00", "--compare", "1.5,4.5", *FAST]
    assert run([*argv, "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Figure written" in capsys.readouterr().out


def test_simulate_does_not_import_heavy_modules_at_cli_start() -> None:
    code = (
        "import sys, ldn_derm.cli; "
        "print(any(m in sys.modules for m in ('numpy', 'scipy', 'matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plot_into_a_missing_folder_is_refused_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nonexistent" / "x.png"
    assert run(["simulate", "--dose", "4.5", "--plot", str(target)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not target.parent.exists()
