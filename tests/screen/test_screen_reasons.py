"""Seeded synthetic patients, one per sweep reason, screened through the real pipeline."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from screen_exports import condition, encounter, med_request, patient, write_export

from ldn_derm.screen import screen_export
from ldn_derm.screen.reasons import check_references, reason_book

AS_OF = date(2024, 8, 1)
NALTREXONE = "naltrexone hydrochloride 50 MG Oral Tablet"


def _population() -> list[dict[str, Any]]:
    return [
        # naltrexone + a current opioid
        patient("nal-opioid"),
        med_request("r1", "nal-opioid", NALTREXONE),
        med_request("r2", "nal-opioid", "oxycodone hydrochloride 5 MG Oral Tablet"),
        encounter("e1", "nal-opioid", "2024-07-01"),
        # naltrexone + an opioid stopped 5 days ago (recent)
        patient("nal-recent"),
        med_request("r3", "nal-recent", NALTREXONE),
        {
            **med_request(
                "r4",
                "nal-recent",
                "oxycodone hydrochloride 5 MG Oral Tablet",
                status="completed",
                authored="2024-07-01",
            ),
            "dispenseRequest": {"validityPeriod": {"start": "2024-07-01", "end": "2024-07-27"}},
        },
        encounter("e2", "nal-recent", "2024-07-01"),
        # two naltrexone products
        patient("nal-two"),
        med_request("r5", "nal-two", NALTREXONE),
        med_request("r6", "nal-two", "Vivitrol 380 MG Injectable Suspension"),
        encounter("e3", "nal-two", "2024-06-01"),
        # naltrexone, last seen two years ago
        patient("nal-lost"),
        med_request("r7", "nal-lost", NALTREXONE),
        encounter("e4", "nal-lost", "2022-06-01"),
        # naltrexone, seen last month: no follow-up reason
        patient("nal-seen"),
        med_request("r8", "nal-seen", NALTREXONE),
        encounter("e5", "nal-seen", "2024-07-15"),
        # naltrexone + a drug its label names as interacting
        patient("nal-thio"),
        med_request("r10", "nal-thio", NALTREXONE),
        med_request("r11", "nal-thio", "thioridazine hydrochloride 25 MG Oral Tablet"),
        encounter("e6", "nal-thio", "2024-07-20"),
        # deceased with an order still active
        patient("dead", deceasedDateTime="2023-02-01"),
        med_request("r9", "dead", "lisinopril 10 MG Oral Tablet", authored="2022-12-01"),
        # research cohort: Hailey-Hailey disease and a history of malignancy
        patient("cohort", gender="male"),
        condition("c1", "cohort", "Hailey-Hailey disease"),
        condition(
            "c2",
            "cohort",
            "Personal history of malignant neoplasm of breast",
            code=("http://hl7.org/fhir/sid/icd-10-cm", "Z85.3"),
        ),
        # Hailey-Hailey disease alone: not in the cohort
        patient("hhd-only", gender="male"),
        condition("c3", "hhd-only", "Hailey-Hailey disease"),
    ]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    folder = write_export(tmp_path_factory.mktemp("export"), _population())
    out = folder.parent / "worklist.json"
    screen_export(folder, as_of=AS_OF, out=out, fmt="json", workers=1)
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for row in orjson.loads(out.read_bytes()):
        grouped.setdefault(row["patient"], {})[row["code"]] = row
    return grouped


SWEEP = [
    ("nal-opioid", "screen-naltrexone-with-opioid", "contraindicated"),
    ("nal-recent", "screen-naltrexone-with-opioid", "caution"),
    ("nal-two", "screen-naltrexone-multiple", "caution"),
    ("nal-lost", "screen-no-follow-up", "caution"),
    ("dead", "screen-deceased-orders-active", "caution"),
    ("nal-thio", "screen-naltrexone-interaction", "caution"),
    ("cohort", "screen-cohort-evidence-systemic-risk", "info"),
]


@pytest.mark.parametrize(("pid", "code", "severity"), SWEEP)
def test_each_sweep_reason_is_raised(
    rows: dict[str, dict[str, dict[str, Any]]], pid: str, code: str, severity: str
) -> None:
    row = rows[pid][code]
    assert row["severity"] == severity
    assert row["summary"]
    assert row["triggered_by"], "a reason names the records it rests on"


@pytest.mark.parametrize(
    ("pid", "code"),
    [
        ("nal-seen", "screen-no-follow-up"),
        ("hhd-only", "screen-cohort-evidence-systemic-risk"),
        ("nal-opioid", "screen-naltrexone-multiple"),
        ("cohort", "screen-naltrexone-with-opioid"),
        ("nal-lost", "screen-deceased-orders-active"),
        ("nal-opioid", "screen-naltrexone-interaction"),
    ],
)
def test_reason_not_raised_without_its_facts(
    rows: dict[str, dict[str, dict[str, Any]]], pid: str, code: str
) -> None:
    assert code not in rows.get(pid, {})


def test_opioid_reason_rests_on_the_core_finding(
    rows: dict[str, dict[str, dict[str, Any]]],
) -> None:
    core = rows["nal-opioid"]["opioid-use"]
    sweep = rows["nal-opioid"]["screen-naltrexone-with-opioid"]
    assert set(core["references"]) <= set(sweep["references"])
    assert "MedicationRequest/r2" in sweep["triggered_by"]
    assert "MedicationRequest/r1" in sweep["triggered_by"]
    assert "opioid-recent" in rows["nal-recent"]


def test_core_naltrexone_findings_pass_through(
    rows: dict[str, dict[str, dict[str, Any]]],
) -> None:
    assert "naltrexone-interaction" in rows["nal-thio"]
    assert (
        "MedicationRequest/r11" in rows["nal-thio"]["screen-naltrexone-interaction"]["triggered_by"]
    )
    assert "naltrexone-duplicate" in rows["nal-two"]


def test_cohort_reason_cites_the_evidence_and_the_flag(
    rows: dict[str, dict[str, dict[str, Any]]],
) -> None:
    row = rows["cohort"]["screen-cohort-evidence-systemic-risk"]
    assert "Condition/c1" in row["triggered_by"] and "Condition/c2" in row["triggered_by"]
    assert row["references"]


def test_follow_up_window_is_an_option(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", _population())
    out = tmp_path / "w.json"
    screen_export(folder, as_of=AS_OF, out=out, fmt="json", workers=1, follow_up_months=1)
    found = orjson.loads(out.read_bytes())
    lost = {r["patient"] for r in found if r["code"] == "screen-no-follow-up"}
    assert lost == {"nal-lost", "nal-two", "nal-opioid", "nal-recent"}  # seen > 30 days ago


def test_reasons_file_is_valid_and_cites_known_references() -> None:
    from ldn_derm.knowledge import get_knowledge

    book = reason_book()
    check_references(book, get_knowledge())
    assert all(r.code.startswith("screen-") for r in book.reasons)
    assert len({r.code for r in book.reasons}) == len(book.reasons)
