"""Reading an export: a local file, memory-mapped, gives exactly the blocks of a stream."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.screen.source import ExportFile, read_blocks

LINES = st.lists(st.sampled_from([0, 1, 5, 100, 3000, 70_000]).map(lambda n: b"x" * n), max_size=40)


def _file(path: Path, url: str, compressed: bool = False) -> ExportFile:
    return ExportFile(0, url, path.name, "Observation", path.stat().st_size, compressed)


@settings(max_examples=150, deadline=None)
@given(lines=LINES, ended=st.booleans(), size=st.sampled_from([1, 7, 100, 4096, 65_536]))
def test_mapped_blocks_are_the_streamed_blocks(lines: list[bytes], ended: bool, size: int) -> None:
    data = b"\n".join(lines) + (b"\n" if ended and lines else b"")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Observation.000.ndjson"
        path.write_bytes(data)
        mapped = list(read_blocks(_file(path, str(path)), size))  # local: memory map
        streamed = list(read_blocks(_file(path, f"file://{path}"), size))  # a URL: fsspec
        gz = Path(folder) / "Observation.001.ndjson.gz"
        gz.write_bytes(gzip.compress(data))
        inflated = list(read_blocks(_file(gz, str(gz), compressed=True), size))
    assert mapped == streamed == inflated
    assert b"".join(mapped) == data
    assert all(block.endswith(b"\n") for block in mapped[:-1])
    assert all(block for block in mapped)  # no empty block, and none for an empty file
