"""The real 10-patient Bulk Data export, screened, agrees exactly with per-patient `assess`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from screen_exports import bundle_findings

from ldn_derm.screen import screen_export

BULK = Path(__file__).resolve().parents[3] / "shared" / "fhir" / "bulk-sample-10"
AS_OF = date(2024, 8, 6)  # the export's transaction time


@pytest.fixture(scope="module")
def oracle() -> dict[str, list[tuple[object, ...]]]:
    if not BULK.is_dir():
        pytest.skip(f"shared Synthea bulk export not found in {BULK}")
    return {
        pid: [(f.code, f.severity.value, f.summary, f.triggered_by, f.references) for f in found]
        for pid, found in bundle_findings(BULK, AS_OF).items()
    }


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    grouped: dict[str, list[tuple[object, ...]]] = {}
    for row in orjson.loads(path.read_bytes()):
        assert list(row) == ["patient", "code", "severity", "summary", "triggered_by", "references"]
        if row["code"].startswith("screen-"):
            continue
        grouped.setdefault(row["patient"], []).append(
            (row["code"], row["severity"], row["summary"], row["triggered_by"], row["references"])
        )
    return grouped


@pytest.mark.parametrize("workers", [1, 2])
def test_bulk_sample_agrees_with_assess_per_patient(
    oracle: dict[str, list[tuple[object, ...]]], tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "worklist.json"
    result = screen_export(BULK, as_of=AS_OF, out=out, fmt="json", workers=workers)
    assert result.patients == len(oracle) == 13
    assert result.malformed == 0 and result.orphan_resources == 0 and result.unreadable == 0
    rows = _rows(out)
    assert {pid: found for pid, found in oracle.items() if found} == rows
    assert result.rows >= sum(len(v) for v in rows.values()) > 0


def test_partition_count_does_not_change_the_worklist(tmp_path: Path) -> None:
    if not BULK.is_dir():
        pytest.skip(f"shared Synthea bulk export not found in {BULK}")
    outputs = []
    for count in (1, 3, 7):
        out = tmp_path / f"w{count}.json"
        screen_export(BULK, as_of=AS_OF, out=out, fmt="json", workers=1, partitions=count)
        outputs.append(sorted(orjson.loads(out.read_bytes()), key=orjson.dumps))
    assert outputs[0] == outputs[1] == outputs[2]


def test_synthea_bundles_as_an_export_agree_with_ldn_assess_of_each_bundle(
    synthea_bundles: list[Path], tmp_path: Path
) -> None:
    """Every shared Synthea bundle (Observations included), as NDJSON: the screen gives exactly
    the findings of `load_patient` + `assess` on the original Bundle file."""
    from screen_exports import export_from_bundles

    from ldn_derm.assess import assess
    from ldn_derm.errors import PatientDataError
    from ldn_derm.patient import load_patient

    as_of = date(2026, 11, 26)
    synthea_bundles = [p for p in synthea_bundles if "Information" not in p.name]  # no patient
    folder = export_from_bundles(synthea_bundles, tmp_path / "export")
    out = tmp_path / "w.json"
    result = screen_export(folder, as_of=as_of, out=out, fmt="json", workers=2)
    assert result.malformed == 0 and result.not_used > 0  # vital signs were left out
    screened: dict[str, list[tuple[object, ...]]] = {}
    for row in orjson.loads(out.read_bytes()):
        if not row["code"].startswith("screen-") or row["code"] == "screen-record-unreadable":
            screened.setdefault(row["patient"], []).append(
                (row["code"], row["severity"], row["summary"], row["triggered_by"],
                 row["references"])
            )  # fmt: skip
    expected: dict[str, list[tuple[object, ...]]] = {}
    for path in synthea_bundles:
        bundle = orjson.loads(path.read_bytes())
        pid = next(
            e["resource"]["id"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Patient"
        )
        try:
            findings = assess(load_patient(path.read_bytes(), as_of=as_of, name=path.name)).findings
        except PatientDataError:
            expected[pid] = [("screen-record-unreadable",)]
            continue
        if findings:
            expected[pid] = [
                (f.code, f.severity.value, f.summary, f.triggered_by, f.references)
                for f in findings
            ]
    unreadable = {p for p, rows in screened.items() if rows[0][0] == "screen-record-unreadable"}
    assert unreadable == {
        p for p, rows in expected.items() if rows[0][0] == "screen-record-unreadable"
    }
    assert {p: r for p, r in screened.items() if p not in unreadable} == {
        p: r for p, r in expected.items() if p not in unreadable
    }
    assert result.patients == len(synthea_bundles)
