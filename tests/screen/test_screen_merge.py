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
