"""Stage A (split) on its own: the Observation lab filter never drops a line the core would use,
on the whole-block path and the line-by-line path alike; other lines of an Observation file are
never left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldn_derm.knowledge import get_knowledge
from ldn_derm.patient.fhir import _concept
from ldn_derm.patient.terminology import matcher_for
from ldn_derm.screen.partition import lab_code_pattern, split_file
from ldn_derm.screen.source import list_export

LAB_CODES = sorted({c.code for lab in get_knowledge().terminology.labs for c in lab.loinc})
# what str.strip() removes: ASCII spaces and separators, and non-ASCII spaces
# (JSON writes the ASCII controls as escapes; the others stay raw bytes on the line)
PADDING = st.one_of(
    st.text(st.sampled_from(" \u00a0\u2003\u3000\u2028"), max_size=3),
    st.text(st.sampled_from(" \t\x0b\x0c\x1c\x1f"), max_size=2),
)


def _core_lab(resource: dict[str, Any]) -> str | None:
    codes, _ = _concept(resource.get("code"), "test")
    return matcher_for(get_knowledge()).lab_for(codes)


@st.composite
def _observation(draw: st.DrawFn, number: int) -> dict[str, Any]:
    codings = []
    for _ in range(draw(st.integers(0, 3))):
        code = draw(st.sampled_from([*LAB_CODES, "8302-2", "72514-3", "1742", "x1742-6"]))
        if draw(st.booleans()):
            code = draw(PADDING) + code + draw(PADDING)
        if draw(st.integers(0, 9)) == 0:  # cut at 64 characters after the code
            code = code + " " * 60 + "tail"
        coding: dict[str, Any] = {"system": "http://loinc.org", "code": code}
        if draw(st.booleans()):
            coding["display"] = draw(st.sampled_from(["ALT", "Body Height", 'say "hi"', "µg"]))
        codings.append(coding)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"o{number}",
        "status": "final",
        "code": {"coding": codings},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": 1.5, "unit": "U/L"},
    }
    keys = draw(st.permutations(list(resource)))
    return {k: resource[k] for k in keys}


def _kept_lines(folder: Path, scratch: Path) -> tuple[set[int], int]:
    files = list_export(str(folder))
    labs = lab_code_pattern(LAB_CODES)
    stats = split_file(files[0], 0, str(scratch), 1, 1, labs)
    kept = set()
    for path in scratch.glob("parts/*/*.tsv"):
        for row in path.read_bytes().splitlines():
            kept.add(int(row.split(b"\t")[2].split(b":")[1]))
    assert stats.lines == stats.not_used + len(kept) + stats.malformed + stats.unlinked
    return kept, stats.lines


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), ascii_only=st.booleans(), spaced=st.booleans())
def test_lab_filter_keeps_every_line_the_core_reads_as_a_lab(
    tmp_path: Path, data: st.DataObject, ascii_only: bool, spaced: bool
) -> None:
    import tempfile

    resources = [data.draw(_observation(n)) for n in range(data.draw(st.integers(1, 12)))]
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "export").mkdir()
    separators = (", ", ": ") if spaced else (",", ":")
    text = "".join(
        json.dumps(r, ensure_ascii=ascii_only, separators=separators) + "\n" for r in resources
    )
    (folder / "export" / "Observation.000.ndjson").write_text(text, encoding="utf-8")
    kept, lines = _kept_lines(folder / "export", folder / "scratch")
    assert lines == len(resources)
    needed = {n for n, r in enumerate(resources, 1) if _core_lab(r) is not None}
    assert needed <= kept


def test_other_resources_in_an_observation_file_are_never_left_out(tmp_path: Path) -> None:
    vital = {
        "resourceType": "Observation",
        "id": "v",
        "code": {"coding": [{"code": "8302-2"}]},
        "subject": {"reference": "Patient/p1"},
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "status": "active",
        "medicationCodeableConcept": {"text": "oxycodone 5 MG Oral Tablet"},
        "subject": {"reference": "Patient/p1"},
    }
    export = tmp_path / "export"
    export.mkdir()
    lines = [orjson.dumps(vital), orjson.dumps(order), b'{"subject":{"reference":"Patient/p1"}}']
    (export / "Observation.000.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    kept, total = _kept_lines(export, tmp_path / "scratch")
    assert total == 3 and kept == {2, 3}


def test_medications_referenced_from_plain_lines_are_joined(tmp_path: Path) -> None:
    """Orders written compactly (the whole-block routing path) that name their medicine by
    medicationReference get the Medication joined, as `ldn assess` of the Bundle would."""
    from datetime import date

    from screen_exports import condition, patient, screen_rows_match_assess, write_export

    as_of = date(2024, 8, 1)
    medication = {
        "resourceType": "Medication",
        "id": "oxy",
        "code": {"text": "oxycodone 5 MG Oral Tablet"},
    }
    orders = [
        {
            "resourceType": "MedicationRequest",
            "id": f"r{n}",
            "status": "active",
            "intent": "order",
            "subject": {"reference": f"Patient/{pid}"},
            "medicationReference": {"reference": "Medication/oxy"},
            "authoredOn": "2024-05-01",
        }
        for n, pid in enumerate(["a", "b", "a"])
    ]
    people = [patient("a"), patient("b"), condition("c1", "b", "Hailey-Hailey disease")]
    folder = write_export(tmp_path / "x", [*people, medication, *orders])
    rows = screen_rows_match_assess(folder, as_of, tmp_path / "w.json")
    assert {r["patient"] for r in rows if r["code"] == "opioid-use"} == {"a", "b"}


def test_encounters_are_scanned_for_the_patients_that_need_them(tmp_path: Path) -> None:
    """Stage A leaves plain Encounter lines to the scan after stage C; the worklist is the
    same as with gzip files (where stage A routes every Encounter), lines that are not plainly
    Encounters are routed as always, and an unreadable line is still reported."""
    import gzip
    import shutil
    from datetime import date

    from screen_exports import encounter, med_request, patient, write_export

    from ldn_derm.screen import screen_export

    as_of = date(2024, 8, 1)
    naltrexone = "naltrexone hydrochloride 50 MG Oral Tablet"
    seen = encounter("e1", "seen", "2024-07-15")
    population = [
        patient("seen"),
        med_request("r1", "seen", naltrexone),
        patient("lost"),
        med_request("r2", "lost", naltrexone),
        encounter("e2", "lost", "2022-06-01"),
        patient("other"),
        encounter("e3", "other", "2024-07-01"),
    ]
    plain = write_export(tmp_path / "plain", population)
    opioid = med_request("r3", "other", "oxycodone hydrochloride 5 MG Oral Tablet")
    with (plain / "Encounter.000.ndjson").open("ab") as extra:
        extra.write(json.dumps(seen).encode() + b"\n")  # spaced: not a plain block
        extra.write(orjson.dumps(opioid) + b"\n")  # not an Encounter: routed by stage A
        extra.write(b"not json\n")
    packed = tmp_path / "gz"
    packed.mkdir()
    for path in plain.iterdir():
        (packed / (path.name + ".gz")).write_bytes(gzip.compress(path.read_bytes()))
    results = []
    for folder in (plain, packed):
        out = tmp_path / f"{folder.name}.json"
        result = screen_export(folder, as_of=as_of, out=out, fmt="json", workers=1)
        results.append((result, orjson.loads(out.read_bytes())))
        shutil.rmtree(tmp_path / "scratch", ignore_errors=True)
    (first, rows), (second, rows_gz) = results
    assert rows == rows_gz
    pooled = tmp_path / "pooled.json"
    screen_export(plain, as_of=as_of, out=pooled, fmt="json", workers=2)
    assert orjson.loads(pooled.read_bytes()) == rows
    assert (first.lines, first.malformed, first.patients) == (second.lines, second.malformed, 3)
    assert [(p.file, p.line) for p in first.problems] == [("Encounter.000.ndjson", 5)]
    codes = {(r["patient"], r["code"]) for r in rows}
    assert ("lost", "screen-no-follow-up") in codes
    assert ("seen", "screen-no-follow-up") not in codes
    assert ("other", "opioid-use") in codes
