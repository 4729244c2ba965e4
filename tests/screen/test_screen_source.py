"""Reading an export in blocks: every way of reading gives the file's lines, whole, once."""

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
def test_blocks_hold_the_files_lines_whole(lines: list[bytes], ended: bool, size: int) -> None:
    data = b"\n".join(lines) + (b"\n" if ended and lines else b"")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Observation.000.ndjson"
        path.write_bytes(data)
        local = list(read_blocks(_file(path, str(path)), size))  # a local path
        streamed = list(read_blocks(_file(path, f"file://{path}"), size))  # a URL: fsspec
        gz = Path(folder) / "Observation.001.ndjson.gz"
        gz.write_bytes(gzip.compress(data))
        inflated = list(read_blocks(_file(gz, str(gz), compressed=True), size))
    for blocks in (local, streamed, inflated):
        assert b"".join(blocks) == data
        assert all(block.endswith(b"\n") for block in blocks[:-1])  # whole lines
        assert all(block for block in blocks)  # no empty block, and none for an empty file
        assert sum(block.count(b"\n") for block in blocks) == data.count(b"\n")
