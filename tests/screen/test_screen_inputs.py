"""Bad and odd exports: malformed lines, an empty export, missing patients, gzip, formats."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screen_exports import (
    condition,
    med_request,
    patient,
    screen_rows_match_assess,
    write_export,
)

from ldn_derm.errors import InputError
from ldn_derm.screen import ScreenResult, screen_export
from ldn_derm.screen.partition import partition_of, patient_key

AS_OF = date(2024, 8, 1)


def _screen(
    folder: Path, tmp_path: Path, fmt: str = "json", **kw: object
) -> tuple[ScreenResult, list[dict[str, Any]]]:
    out = tmp_path / f"w.{fmt}"
    result = screen_export(folder, as_of=AS_OF, out=out, fmt=fmt, workers=1, **kw)  # type: ignore[arg-type]
    rows = orjson.loads(out.read_bytes()) if fmt == "json" else []
    return result, rows


def test_malformed_lines_are_counted_with_file_and_line_and_never_fatal(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x",
        [patient("a"), patient("b"), med_request("r1", "a", "lisinopril 10 MG Oral Tablet")],
    )
    good = folder / "Condition.000.ndjson"
    line2 = orjson.dumps(condition("c2", "b", "Psoriasis"))
    good.write_bytes(
        orjson.dumps(condition("c1", "a", "Psoriasis"))
        + b"\n"
        + b"this is not json\n"  # line 2: no patient can be told
        + line2[:-10]
        + b"\n"  # line 3: truncated after its subject: patient b
        + b'["a list"]\n'  # line 4
    )
    result, rows = _screen(folder, tmp_path)
    assert result.malformed == 3
    where = {(p.file, p.line) for p in result.problems}
    assert where == {
        ("Condition.000.ndjson", 2),
        ("Condition.000.ndjson", 3),
        ("Condition.000.ndjson", 4),
    }
    assert result.patients == 2
    incomplete = [r for r in rows if r["code"] == "screen-record-incomplete"]
    assert [(r["patient"], r["triggered_by"]) for r in incomplete] == [
        ("b", ["Condition.000.ndjson:3"])
    ]
    assert any(r["patient"] == "a" and r["code"] != "screen-record-incomplete" for r in rows)


def test_empty_export_writes_an_empty_worklist(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    result, rows = _screen(folder, tmp_path, summary=tmp_path / "s.html")
    assert result.patients == 0 and rows == []
    assert (tmp_path / "s.html").exists()
    _screen(folder, tmp_path, fmt="csv")
    assert (tmp_path / "w.csv").read_text().splitlines() == [
        "patient,code,severity,summary,triggered_by,references"
    ]


def test_resources_whose_patient_is_missing_are_reported_not_screened(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x",
        [
            patient("a"),
            condition("c1", "a", "Psoriasis"),
            condition("c2", "ghost", "Psoriasis"),
            med_request("r1", "ghost", "oxycodone 5 MG Oral Tablet"),
            {"resourceType": "AllergyIntolerance", "id": "o1", "code": {"text": "penicillin"}},
        ],
    )
    result, rows = _screen(folder, tmp_path)
    assert result.patients == 1
    assert result.orphan_patients == 1 and result.orphan_resources == 2
    assert result.orphan_examples == ["ghost"]
    assert result.unlinked == 1
    assert {r["patient"] for r in rows} <= {"a"}


def test_a_record_the_core_refuses_is_listed_fail_closed(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", [patient("a", gender="banana"), patient("b")])
    result, rows = _screen(folder, tmp_path)
    refused = [r for r in rows if r["code"] == "screen-record-unreadable"]
    assert [r["patient"] for r in refused] == ["a"]
    assert "gender" in refused[0]["summary"] and refused[0]["severity"] == "caution"
    assert result.unreadable == 1


def test_gzip_and_plain_give_the_same_worklist(tmp_path: Path) -> None:
    population = [
        patient("a"),
        med_request("r1", "a", "oxycodone 5 MG Oral Tablet"),
        condition("c1", "a", "Hailey-Hailey disease"),
    ]
    plain = write_export(tmp_path / "plain", population)
    packed = write_export(tmp_path / "gz", population, gz=True)
    _, rows_plain = _screen(plain, tmp_path / "plain")
    _, rows_gz = _screen(packed, tmp_path / "gz")
    assert rows_plain == rows_gz and any(r["code"] == "opioid-use" for r in rows_plain)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_outputs_are_owner_only_and_complete(tmp_path: Path, fmt: str) -> None:
    folder = write_export(
        tmp_path / "x", [patient("a"), med_request("r1", "a", "oxycodone 5 MG Oral Tablet")]
    )
    out = tmp_path / f"w.{fmt}"
    summary = tmp_path / "w.html"
    result = screen_export(folder, as_of=AS_OF, out=out, fmt=fmt, summary=summary, workers=1)  # type: ignore[arg-type]
    for path in (out, summary):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["x", out.name, "w.html"]
    )  # no temp left
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(out)
        assert table.column_names == [
            "patient",
            "code",
            "severity",
            "summary",
            "triggered_by",
            "references",
        ]
        assert table.num_rows == result.rows
    html = summary.read_text()
    assert "opioid-use" in html and "<svg" in html


def test_unusable_export_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        screen_export(tmp_path / "nope", as_of=AS_OF)
    (tmp_path / "f.ndjson").write_text("{}")
    with pytest.raises(InputError, match="is a file"):
        screen_export(tmp_path / "f.ndjson", as_of=AS_OF)


@given(
    st.sampled_from(
        [
            "Patient/{}",
            "urn:uuid:{}",
            "https://ehr.example/fhir/Patient/{}",
            "Patient/{}/_history/3",
        ]
    ),
    st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True),
)
def test_patient_key_reads_every_reference_form(form: str, ident: str) -> None:
    assert patient_key(form.format(ident)) == ident
    assert 0 <= partition_of(ident, 7) < 7


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.randoms(use_true_random=False), spaced=st.booleans())
def test_line_layout_does_not_change_the_result(tmp_path: Path, seed: object, spaced: bool) -> None:
    """Key order and whitespace inside lines must not change routing: same as the oracle."""
    import json
    import random
    import tempfile

    rng: random.Random = seed  # type: ignore[assignment]
    population = [
        patient("a"),
        patient("b", gender="male"),
        med_request("r1", "a", "oxycodone 5 MG Oral Tablet"),
        condition("c1", "b", "Hailey-Hailey disease"),
        {
            **condition("c2", "a", "Psoriasis"),
            "subject": {"display": "A", "reference": "Patient/a"},
        },
    ]
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    for kind in ("Patient", "MedicationRequest", "Condition"):
        lines = []
        for resource in (r for r in population if r["resourceType"] == kind):
            keys = list(resource)
            rng.shuffle(keys)
            shuffled = {k: resource[k] for k in keys}
            lines.append(json.dumps(shuffled, separators=(", ", ": ") if spaced else (",", ":")))
        (folder / f"{kind}.000.ndjson").write_text("\n".join(lines) + "\n")
    screen_rows_match_assess(folder, AS_OF, folder / "w.json")


def test_own_scratch_folder_is_private_and_removed(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", [patient("a")])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    seen: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        for child in scratch.iterdir():
            seen.append(stat.S_IMODE(child.stat().st_mode))

    screen_export(folder, as_of=AS_OF, workers=1, scratch=str(scratch), progress=progress)
    assert seen and set(seen) == {0o700}
    assert list(scratch.iterdir()) == []


def test_the_python_entry_point_takes_paths_as_text(tmp_path: Path) -> None:
    """`screen_export` is documented for Python callers, who pass file names as text too."""
    folder = write_export(tmp_path / "x", [patient("a"), condition("c1", "a", "Psoriasis")])
    out, summary = tmp_path / "w.json", tmp_path / "s.html"
    result = screen_export(
        str(folder), as_of=AS_OF, out=str(out), fmt="json", summary=str(summary), workers=1
    )
    assert result.patients == 1
    assert [r["patient"] for r in orjson.loads(out.read_bytes())] == ["a"] * result.rows
    assert "<html" in summary.read_text()


def test_scratch_on_an_object_store_gives_the_same_worklist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scratch URL that is not a local folder (here fsspec's in-memory filesystem, standing
    in for an object store, which cannot append): each flush of the split's buffers is a new
    object, and every one of them is read back. Small buffers force many flushes per
    partition."""
    import fsspec

    from ldn_derm.screen import partition

    bulk = Path(__file__).resolve().parents[3] / "shared" / "fhir" / "bulk-sample-10"
    monkeypatch.setattr(partition._Shards, "LIMIT", 4096)
    (tmp_path / "local").mkdir()
    (tmp_path / "remote").mkdir()
    local, local_rows = _screen(bulk, tmp_path / "local", partitions=3)
    remote, remote_rows = _screen(bulk, tmp_path / "remote", partitions=3, scratch="memory://s")
    assert local.patients == remote.patients == 13
    assert remote_rows == local_rows
    assert fsspec.filesystem("memory").ls("/s") == []  # the run's folder is removed
