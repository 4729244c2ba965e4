"""`ldn evidence`, `ldn drug`, `ldn refs`, `ldn --version` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ldn_derm.cli import run
from ldn_derm.knowledge import get_knowledge


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_evidence_json_meets_the_coverage_bar(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, ["evidence", "--format", "json"])
    assert isinstance(rows, list)
    assert len(rows) >= 25
    assert len({r["condition"] for r in rows}) >= 8
    assert sum(r["outcome"] != "improved" for r in rows) >= 4
    refs = get_knowledge().references
    for row in rows:
        for key in ("condition", "study", "design", "n", "dose_mg_per_day", "outcome"):
            assert key in row
        assert row["references"] and all(r in refs for r in row["references"])


def test_evidence_for_one_condition_by_code_and_alias(capsys: pytest.CaptureFixture[str]) -> None:
    by_name = _json(capsys, ["evidence", "psoriasis", "-f", "json"])
    by_code = _json(capsys, ["evidence", "L40", "-f", "json"])
    assert by_name == by_code
    assert by_name and all(r["condition"] == "psoriasis" for r in by_name)  # type: ignore[union-attr]


def test_evidence_text_shows_summary_and_references(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["evidence", "psoriasis"]) == 0
    out = capsys.readouterr().out
    assert "Psoriasis" in out and "References" in out and "improved" in out


def test_unknown_condition_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["evidence", "no-such-disease"]) == 2
    err = capsys.readouterr().err
    assert "unknown condition 'no-such-disease'" in err
    assert "Traceback" not in err


def test_bad_option_exits_2_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ldn_derm", "evidence", "--format", "xml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "xml" in proc.stderr


def test_drug_monograph_cites_every_statement(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["drug", "--format", "json"])
    assert isinstance(data, dict)
    refs = get_knowledge().references
    ids = [s["id"] for s in data["sections"]]
    for needed in ("use", "dosing", "contraindications", "adverse-effects", "mechanism"):
        assert needed in ids
    for section in data["sections"]:
        assert section["items"], section["id"]
        for item in section["items"]:
            assert item["refs"] and all(r in refs for r in item["refs"])


def test_refs_lists_and_shows_one(capsys: pytest.CaptureFixture[str]) -> None:
    all_refs = _json(capsys, ["refs", "--format", "json"])
    assert isinstance(all_refs, list) and len(all_refs) == len(get_knowledge().references)
    assert run(["refs", "ekelem-2019"]) == 0
    out = capsys.readouterr().out
    assert "30484835" in out and "Cited by" in out
    assert run(["refs", "nope"]) == 2


def test_version_shows_program_and_knowledge_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    out = capsys.readouterr().out
    kb = get_knowledge()
    assert "ldn-derm" in out and kb.meta.version in out and kb.meta.reviewed.isoformat() in out


def test_prescribe_option_choices_match_the_regimen_enums() -> None:
    from ldn_derm.cli.prescribe import FormChoice, SaltChoice, TimeChoice
    from ldn_derm.regimen.compounding import Form, SaltBasis
    from ldn_derm.regimen.schedule import DoseTime

    for cli, core in ((FormChoice, Form), (SaltChoice, SaltBasis), (TimeChoice, DoseTime)):
        assert {c.value for c in cli} == {c.value for c in core}


def test_evidence_caption_keeps_low_dose_and_higher_dose_improvement_apart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["evidence", "atopic dermatitis"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "0 improved at a low (or unreported) dose, 1 only at higher doses (50 mg/day)" in out


def test_evidence_shows_add_on_studies_and_the_comparator_label(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = _json(capsys, ["evidence", "chronic pruritus", "-f", "json"])
    lee = next(r for r in rows if r["id"] == "lee-j-2016-chronic-pruritus")  # type: ignore[index,union-attr]
    assert "antipruritic" in lee["add_on_to"]
    uremic = _json(capsys, ["evidence", "uremic pruritus", "-f", "json"])
    outcomes = {r["study"]: r["outcome"] for r in uremic}  # type: ignore[index,union-attr]
    assert outcomes["Legroux-Crespel 2004 (vs loratadine)"] == "no-difference-vs-comparator"
    assert outcomes["Peer 1996"] == "improved"
    assert run(["evidence", "uremic pruritus"]) == 0
    assert "no-difference" in capsys.readouterr().out
    assert run(["evidence", "lichen planopilaris"]) == 0
    assert "Add-on" in capsys.readouterr().out


def test_narrow_terminals_get_stacked_evidence_and_readable_places(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Below 120 columns `ldn evidence` prints one block per study (no squeezed table);
    `ldn refs ID` names the places that cite it as a reader would look for them; provenance is
    labelled as what was read, not 'Certainty' (which means something else in GRADE)."""
    from ldn_derm.cli.app import console

    monkeypatch.setattr(console, "_width", 90)
    assert run(["evidence", "psoriasis"]) == 0
    out = capsys.readouterr().out
    assert "┃ Study" not in out and "Bridgman 2018" in out and "case report, n=1" in out
    assert max(len(line) for line in out.splitlines()) <= 90
    assert "Certainty" not in out and "(read: article)" in out
    assert run(["refs", "label-revia-interactions"]) == 0
    out = capsys.readouterr().out
    assert "Safety › Thioridazine" in out
    assert "sections" not in out and "statements[" not in out and ".refs" not in out
