"""The worklist merge in levels: more row files than the merge opens at once."""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.screen import engine


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=6), min_size=1, max_size=12),
    st.integers(min_value=2, max_value=4),
)
def test_merge_in_levels_orders_by_patient_and_keeps_each_patients_rows(
    files: list[list[str]], fan_in: int
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        _check(Path(folder), files, fan_in)


def _check(root: Path, files: list[list[str]], fan_in: int) -> None:
    (root / "rows").mkdir()
    expected = []
    for part, patients in enumerate(files):
        # a partition's rows are sorted by patient; each patient is in one partition only
        mine = sorted({f"{p}{part}" for p in patients})
        with (root / "rows" / f"p{part:04d}.jsonl").open("wb") as out:
            for pid in mine:
                for n in range(2):
                    row = {"patient": pid, "code": f"c{n}"}
                    out.write(orjson.dumps(row) + b"\n")
                    expected.append(row)
    saved = engine.MERGE_FAN_IN
    engine.MERGE_FAN_IN = fan_in
    try:
        rows = list(engine.iter_rows(str(root), len(files)))
    finally:
        engine.MERGE_FAN_IN = saved
    assert rows == sorted(expected, key=lambda r: (r["patient"], r["code"]))


def test_the_merge_memory_does_not_grow_with_the_number_of_partitions(tmp_path: Path) -> None:
    """The final merge holds one read buffer per open row file: with a 1 MB buffer each, 300
    partitions (a 100k-patient export has about 460) took one megabyte per file; the buffer is
    small, so memory stays bounded by MERGE_FAN_IN files of MERGE_BUFFER bytes."""
    import tracemalloc

    (tmp_path / "rows").mkdir()
    partitions = 300
    for part in range(partitions):
        with (tmp_path / "rows" / f"p{part:04d}.jsonl").open("wb") as out:
            for n in range(400):  # about 20 kB per file: a buffer of 1 MB would be mostly unused
                out.write(orjson.dumps({"patient": f"{part:04d}-{n:04d}", "code": "c"}) + b"\n")
    tracemalloc.start()
    try:
        count = sum(1 for _ in engine.iter_rows(str(tmp_path), partitions))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == partitions * 400
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MB"  # (1 MB buffers: 258 MB)
