"""Lines written in legal but unusual ways: the quick byte scans must never drop, misroute or
crash on them (found by an adversarial review of the split stage). Each export is compared with
the per-patient Bundle oracle, as `ldn assess` would read the same resources."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from screen_exports import bundle_findings, encounter, med_request, patient

from ldn_derm.errors import InputError
from ldn_derm.screen import ScreenResult, screen_export

AS_OF = date(2024, 8, 6)
OXYCODONE = "oxycodone hydrochloride 5 MG Oral Tablet"


def _write(folder: Path, files: dict[str, list[bytes]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for kind, lines in files.items():
        (folder / f"{kind}.000.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    return folder


def _screen(folder: Path, tmp_path: Path, workers: int = 1) -> tuple[ScreenResult, Any]:
    out = tmp_path / f"w{workers}.json"
    result = screen_export(folder, as_of=AS_OF, out=out, fmt="json", workers=workers)
    return result, orjson.loads(out.read_bytes())


def _core_rows(rows: list[dict[str, Any]]) -> dict[str, set[tuple[Any, ...]]]:
    found: dict[str, set[tuple[Any, ...]]] = {}
    for row in rows:
        if not row["code"].startswith("screen-"):
            key = (row["code"], row["severity"], row["summary"], tuple(row["triggered_by"]))
            found.setdefault(row["patient"], set()).add(key)
    return found


def _oracle(folder: Path) -> dict[str, set[tuple[Any, ...]]]:
    return {
        pid: {(f.code, f.severity.value, f.summary, tuple(f.triggered_by)) for f in findings}
        for pid, findings in bundle_findings(folder, AS_OF).items()
        if findings
    }


def _order_by_reference(rid: str, pid: str, reference_json: bytes) -> bytes:
    """A MedicationRequest whose medicationReference object is written exactly as given."""
    return (
        b'{"resourceType":"MedicationRequest","id":"%s","status":"active","intent":"order",'
        b'"medicationReference":%s,"subject":{"reference":"Patient/%s"},'
        b'"authoredOn":"2024-05-01"}' % (rid.encode(), reference_json, pid.encode())
    )


@pytest.mark.parametrize(
    "reference",
    [
        b'{"reference":"Medication\\/oxy"}',  # an escaped slash
        b'{"display":"oxy {5 mg}","reference":"Medication/oxy"}',  # braces before it
        b'{"extension":[{"url":"x","valueString":"y"}],"reference":"Medication/oxy"}',
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_medication_reference_written_unusually_is_still_joined(
    tmp_path: Path, reference: bytes, workers: int
) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "oxy",
        "code": {"text": OXYCODONE},
    }
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [orjson.dumps(patient("a")), orjson.dumps(patient("b"))],
            "Medication": [orjson.dumps(medication)],
            "MedicationRequest": [
                _order_by_reference("r1", "a", reference),
                orjson.dumps(med_request("r2", "b", "lisinopril 10 MG Oral Tablet")),
            ],
        },
    )
    _, rows = _screen(folder, tmp_path, workers)
    expected = _oracle(folder)
    assert any(code == "opioid-use" for code, *_ in expected["a"])  # the join matters
    assert _core_rows(rows) == expected


def test_a_nested_subject_never_routes_a_line_to_another_patient(tmp_path: Path) -> None:
    """b's order names b at the top level (written with a space) and a inside an extension
    object: it is b's, as the core reads it; a's follow-up must not count b's visit either."""
    order = (
        b'{"resourceType":"MedicationRequest","id":"r1","status":"active","intent":"order",'
        b'"medicationCodeableConcept":{"text":"%s"},'
        b'"subject": {"reference":"Patient/b"},"authoredOn":"2024-05-01",'
        b'"x":{"subject":{"reference":"Patient/a"}}}' % OXYCODONE.encode()
    )
    visit = (
        b'{"resourceType":"Encounter","id":"e1","status":"finished",'
        b'"subject": {"reference":"Patient/b"},"period":{"start":"2024-07-01","end":"2024-07-01"},'
        b'"x":{"subject":{"reference":"Patient/a"}}}'
    )
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [orjson.dumps(patient("a")), orjson.dumps(patient("b"))],
            "MedicationRequest": [order],
            "Encounter": [visit, orjson.dumps(encounter("e2", "a", "2020-01-01"))],
        },
    )
    _, rows = _screen(folder, tmp_path)
    assert _core_rows(rows) == _oracle(folder)
    assert ("b", "opioid-use") in {(r["patient"], r["code"]) for r in rows}
    assert not [r for r in rows if r["patient"] == "a" and r["code"] == "opioid-use"]


def test_an_escaped_resource_type_in_an_encounter_file_is_read_as_the_core_reads_it(
    tmp_path: Path,
) -> None:
    """orjson keeps the last of two equal keys: this line is a MedicationRequest to the core."""
    line = (
        b'{"resourceType":"Encounter","id":"r1","status":"active","intent":"order",'
        b'"medicationCodeableConcept":{"text":"%s"},"subject":{"reference":"Patient/b"},'
        b'"authoredOn":"2024-05-01","resourceTyp\\u0065":"MedicationRequest"}' % OXYCODONE.encode()
    )
    folder = _write(
        tmp_path / "x",
        {"Patient": [orjson.dumps(patient("b"))], "Encounter": [line]},
    )
    _, rows = _screen(folder, tmp_path)
    assert ("b", "opioid-use") in {(r["patient"], r["code"]) for r in rows}


def test_ids_with_control_characters_are_reported_never_fatal(tmp_path: Path) -> None:
    """Not FHIR ids, but legal JSON: each such line is a reported problem; the run goes on."""
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [
                orjson.dumps(patient("x\ty")),
                orjson.dumps(patient("x\ny")),
                orjson.dumps(patient("ok")),
            ],
            "Medication": [orjson.dumps({"resourceType": "Medication", "id": "m\nx"})],
            "MedicationRequest": [
                orjson.dumps(
                    {**med_request("r1", "q", OXYCODONE), "subject": {"reference": "urn:uuid:q\tz"}}
                ),
                orjson.dumps(med_request("r2", "ok", OXYCODONE)),
            ],
        },
    )
    result, rows = _screen(folder, tmp_path)
    assert result.patients == 1
    assert ("ok", "opioid-use") in {(r["patient"], r["code"]) for r in rows}
    messages = [p.message for p in result.problems]
    assert sum("Patient without a usable id" in m for m in messages) == 2
    assert any("Medication without a usable id" in m for m in messages)


def test_a_patient_id_outside_fhir_id_characters_keeps_its_resources(tmp_path: Path) -> None:
    """The core matches 'Patient/a_1' to the Patient 'a_1' exactly; so does the screen."""
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [orjson.dumps(patient("a_1"))],
            "MedicationRequest": [orjson.dumps(med_request("r1", "a_1", OXYCODONE))],
        },
    )
    result, rows = _screen(folder, tmp_path)
    assert result.unlinked == 0
    assert _core_rows(rows) == _oracle(folder)
    assert ("a_1", "opioid-use") in {(r["patient"], r["code"]) for r in rows}


def test_an_escaped_subject_key_never_hides_a_follow_up_visit(tmp_path: Path) -> None:
    """a takes LDN and was seen last month, in an Encounter whose "subject" key is written with
    an escape; the other line names b twice. The visit counts (the encounter scan's shortcuts
    count keys, so a block with an escape is always read line by line)."""
    visit_a = (
        b'{"resourceType":"Encounter","id":"e1","status":"finished",'
        b'"s\\u0075bject":{"reference":"Patient/a"},'
        b'"period":{"start":"2024-07-01","end":"2024-07-01"}}'
    )
    visit_b = (
        b'{"resourceType":"Encounter","id":"e2","status":"finished",'
        b'"subject":{"reference":"Patient/b"},"period":{"start":"2024-07-01","end":"2024-07-01"},'
        b'"x":{"subject":{"reference":"Patient/b"}}}'
    )
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [orjson.dumps(patient("a")), orjson.dumps(patient("b"))],
            "MedicationRequest": [
                orjson.dumps(
                    med_request(
                        "r1",
                        "a",
                        "naltrexone hydrochloride 4.5 MG Oral Capsule",
                        authored="2023-01-01",
                    )
                )
            ],
            "Encounter": [visit_a, visit_b],
        },
    )
    _, rows = _screen(folder, tmp_path, workers=2)
    codes = {(r["patient"], r["code"]) for r in rows}
    assert ("a", "screen-no-follow-up") not in codes
    # and without the visit, the same record is listed (the check is live)
    (folder / "Encounter.000.ndjson").write_bytes(visit_b + b"\n")
    _, rows = _screen(folder, tmp_path, workers=2)
    assert ("a", "screen-no-follow-up") in {(r["patient"], r["code"]) for r in rows}


# ---------------------------------------------------------------- found by a second review


def _gzip_truncated(data: bytes) -> bytes:
    return gzip.compress(data)[:-40]


def _gzip_corrupt(data: bytes) -> bytes:
    packed = bytearray(gzip.compress(data))
    for i in range(20, 60):
        packed[i] ^= 0x5A
    return bytes(packed)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_gzip_truncated, "cut short"),
        (_gzip_corrupt, "corrupt"),
        (lambda data: data, "not gzip"),  # plain text named .gz
    ],
)
def test_a_damaged_gzip_file_stops_the_run_and_names_the_file(
    tmp_path: Path, damage: Any, reason: str, workers: int
) -> None:
    """Fail closed: the patients whose records are in the file cannot all be screened, so no
    worklist is written (a partial one would pass for complete)."""
    lines = [orjson.dumps(med_request(f"r{i}", "a", OXYCODONE)) for i in range(400)]
    folder = _write(tmp_path / "x", {"Patient": [orjson.dumps(patient("a"))]})
    (folder / "MedicationRequest.000.ndjson.gz").write_bytes(damage(b"\n".join(lines) + b"\n"))
    out = tmp_path / "w.json"
    with pytest.raises(InputError) as caught:
        screen_export(folder, as_of=AS_OF, out=out, fmt="json", workers=workers)
    assert "MedicationRequest.000.ndjson.gz" in str(caught.value)
    assert reason in str(caught.value)
    assert not out.exists()


def test_a_byte_order_mark_does_not_lose_the_first_patient(tmp_path: Path) -> None:
    """Some exports start each file with a UTF-8 byte-order mark; `ldn assess` skips it."""
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [b"\xef\xbb\xbf" + orjson.dumps(patient("a")), orjson.dumps(patient("b"))],
            "MedicationRequest": [
                b"\xef\xbb\xbf" + orjson.dumps(med_request("r1", "a", OXYCODONE))
            ],
        },
    )
    result, rows = _screen(folder, tmp_path)
    assert result.malformed == 0 and result.patients == 2
    assert _core_rows(rows) == _oracle(folder)
    assert ("a", "opioid-use") in {(r["patient"], r["code"]) for r in rows}


def test_an_unreadable_visit_of_a_patient_on_naltrexone_is_reported(tmp_path: Path) -> None:
    """e1 takes LDN; one of its Encounter lines is cut short. The follow-up check may be
    missing that visit, so the line is reported and e1 listed as incomplete."""
    cut = orjson.dumps(encounter("v2", "e1", "2024-07-01"))[:-30]
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [orjson.dumps(patient("e1"))],
            "MedicationRequest": [
                orjson.dumps(
                    med_request("r1", "e1", "naltrexone hydrochloride 4.5 MG Oral Capsule")
                )
            ],
            "Encounter": [orjson.dumps(encounter("v1", "e1", "2020-01-01")), cut],
        },
    )
    for workers in (1, 2):
        result, rows = _screen(folder, tmp_path, workers)
        incomplete = [r for r in rows if r["code"] == "screen-record-incomplete"]
        assert [r["triggered_by"] for r in incomplete] == [["Encounter.000.ndjson:2"]]
        assert [(p.file, p.line) for p in result.problems] == [("Encounter.000.ndjson", 2)]


def test_ids_outside_fhir_id_characters_are_followed_as_the_core_follows_them(
    tmp_path: Path,
) -> None:
    """The core joins 'Medication/m 2' to the Medication 'm 2' and 'Patient/a/b' to the Patient
    'a/b' by comparing the text; the screen used to leave both out (the oxycodone order was
    then only 'unchecked', the opioid finding lost)."""
    medication = {"resourceType": "Medication", "id": "m 2", "code": {"text": OXYCODONE}}
    by_reference = _order_by_reference("r1", "m", b'{"reference":"Medication/m 2"}')
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [orjson.dumps(patient("m")), orjson.dumps(patient("a/b"))],
            "Medication": [orjson.dumps(medication)],
            "MedicationRequest": [by_reference, orjson.dumps(med_request("r2", "a/b", OXYCODONE))],
        },
    )
    result, rows = _screen(folder, tmp_path)
    assert result.unlinked == 0 and result.unresolved_medications == 0
    assert _core_rows(rows) == _oracle(folder)
    codes = {(r["patient"], r["code"]) for r in rows}
    assert {("m", "opioid-use"), ("a/b", "opioid-use")} <= codes


def test_an_escaped_second_subject_key_routes_the_line_as_the_core_reads_it(
    tmp_path: Path,
) -> None:
    """JSON's last duplicate key wins: this order names t1, although its first "subject" key,
    written plainly, names t0."""
    order = (
        b'{"resourceType":"MedicationRequest","id":"r1","status":"active","intent":"order",'
        b'"medicationCodeableConcept":{"text":"%s"},"subject":{"reference":"Patient/t0"},'
        b'"subj\\u0065ct":{"reference":"Patient/t1"},"authoredOn":"2024-05-01"}'
        % OXYCODONE.encode()
    )
    plain = orjson.dumps(med_request("r2", "t0", "lisinopril 10 MG Oral Tablet"))
    folder = _write(
        tmp_path / "x",
        {
            "Patient": [orjson.dumps(patient("t0")), orjson.dumps(patient("t1"))],
            "MedicationRequest": [plain, order, plain.replace(b'"r2"', b'"r3"')],
        },
    )
    result, rows = _screen(folder, tmp_path)
    assert result.malformed == 0
    assert _core_rows(rows) == _oracle(folder)
    assert ("t1", "opioid-use") in {(r["patient"], r["code"]) for r in rows}
