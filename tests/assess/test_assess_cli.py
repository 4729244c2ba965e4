"""`ldn assess`: output shapes, and one-line errors with exit status 2 for bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from vignette_fhir import Bundle, concept

from ldn_derm.cli import run

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "profile-psoriasis.yaml"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_json_output_has_the_documented_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = Bundle()
    bundle.condition(concept(text="Plaque psoriasis"))
    ref = bundle.request(concept(text="Percocet"))
    path = _write(tmp_path, "b.json", json.dumps(bundle.json()))
    assert run(["assess", str(path), "--as-of", "2026-06-01", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {
        "patient",
        "as_of",
        "candidacy",
        "indications",
        "findings",
        "comparators",
        "not_assessed",
    }
    assert set(out["patient"]) >= {"id", "age", "sex"}
    assert out["as_of"] == "2026-06-01"
    assert out["candidacy"] == "contraindicated"
    [indication] = out["indications"]
    assert set(indication) >= {"condition", "matched_from", "evidence", "references"}
    assert set(indication["evidence"]) == {
        "studies",
        "positive",
        "negative_or_mixed",
        "doses_mg_per_day",
        "positive_possibly_low",
        "positive_higher_dose",
        "negative_controlled_low",
    }
    finding = next(f for f in out["findings"] if f["code"] == "opioid-use")
    assert set(finding) == {"code", "severity", "summary", "detail", "triggered_by", "references"}
    assert finding["triggered_by"] == [ref]
    assert {"therapy", "flags"} <= set(out["comparators"][0])


def test_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = Bundle(gender="male")
    bundle.condition(concept(text="Plaque psoriasis"))
    path = _write(tmp_path, "b.json", json.dumps(bundle.json()))
    assert run(["assess", str(path), "--as-of", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    assert "Candidacy" in out and "candidate" in out and "Psoriasis" in out


def test_text_output_compares_ldn_with_every_psoriasis_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bundle = Bundle(gender="male", birth="1960-01-01")
    bundle.condition(concept(text="Plaque psoriasis"))
    path = _write(tmp_path, "b.json", json.dumps(bundle.json()))
    assert run(["assess", str(path), "--as-of", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Comparison with traditional systemic treatments") :]
    assert section.index("Low-dose naltrexone (LDN)") < section.index("Methotrexate")
    for label in ("evidence", "key risks", "before start", "monitoring"):
        assert label in section
    assert "TNF-alpha inhibitors" in section and "Test for latent TB" in section
    assert "Dupilumab" not in section  # an atopic dermatitis option, with no flag here
    assert "no flag from the record" in section


def test_example_profile_assesses(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["assess", str(EXAMPLE), "--as-of", "2026-06-01", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [i["condition"] for i in out["indications"]] == ["psoriasis"]


BAD_INPUTS = {
    "not-json.json": ("{ this is not json", "not valid JSON"),
    "array.json": ("[1, 2, 3]", "one JSON/YAML object"),
    "not-fhir.json": ('{"hello": "world"}', "patient profile"),
    "wrong-type.json": ('{"resourceType": "Patient", "id": "x"}', "expected a FHIR Bundle"),
    "no-patient.json": ('{"resourceType": "Bundle", "entry": []}', "no Patient"),
    "bad-birth.json": (
        '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", '
        '"id": "p", "birthDate": "1980-02-30"}}]}',
        "birthDate",
    ),
    "bad-entry.json": ('{"resourceType": "Bundle", "entry": [42]}', "entry 1"),
    "empty.yaml": ("", "is empty"),
    "scalar.yaml": ("just some words", "one JSON/YAML object"),
    "alias.yaml": ("a: &x [1]\nb: *x\n", "aliases"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    content, expected = BAD_INPUTS[name]
    path = _write(tmp_path, name, content)
    assert run(["assess", str(path), "--as-of", "2026-06-01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ldn: error:") and "\n" not in err and "Traceback" not in err
    assert expected in err


@pytest.mark.parametrize(
    "as_of", ["2026-13-01", "yesterday", "2026-02-30", "26-01-01", "0001-01-01"]
)
def test_malformed_as_of(tmp_path: Path, capsys: pytest.CaptureFixture[str], as_of: str) -> None:
    assert run(["assess", str(EXAMPLE), "--as-of", as_of]) == 2
    assert "--as-of" in capsys.readouterr().err


def test_missing_file_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["assess", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert run(["assess", str(tmp_path)]) == 2
    assert "folder" in capsys.readouterr().err


def test_huge_file_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:  # sparse: 2 GB on paper, nothing on disk
        handle.truncate(2 * 1024**3)
    assert os.path.getsize(path) == 2 * 1024**3
    assert run(["assess", str(path)]) == 2
    assert "limit is 256 MB" in capsys.readouterr().err


def test_help_lists_assess(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["assess", "--help"]) == 0
    assert "--as-of" in capsys.readouterr().out


def test_text_output_says_when_no_traditional_option_is_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bundle = Bundle(gender="male", birth="1960-01-01")
    bundle.condition(concept(text="Hailey-Hailey disease"))
    path = _write(tmp_path, "b.json", json.dumps(bundle.json()))
    assert run(["assess", str(path), "--as-of", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    assert "No traditional systemic option is held for the matched conditions" in out
    assert "Low-dose naltrexone (LDN)" in out and "Methotrexate" not in out


def test_text_output_separates_low_dose_from_higher_dose_improvement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # table headers on one line
    bundle = Bundle(gender="male")
    bundle.condition(concept(text="Atopic dermatitis"))
    bundle.condition(concept(text="Frontal fibrosing alopecia"))
    path = _write(tmp_path, "b.json", json.dumps(bundle.json()))
    assert run(["assess", str(path), "--as-of", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    assert "improved at low dose" in out and "improved only at higher dose" in out
    assert "indication-evidence-negative-controlled" in out
