"""The export: which NDJSON files it holds, and reading them line by line.

An export is a folder (local path or any URL fsspec can list: ``s3://``, ``gs://``,
``file://``...) of Bulk Data output files named ``<ResourceType>.<anything>.ndjson``, optionally
gzip-compressed (``.ndjson.gz``). ``log.ndjson`` and other files without a resource-type name
are not patient data and are left out. Nothing here knows any clinical rule.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from ldn_derm.errors import InputError

_NAME = re.compile(r"^([A-Z][A-Za-z]+)(?:[.\-_][^/]*)?\.ndjson(\.gz)?$")
# A Bulk Data manifest never names these as resource output; they sit beside it.
_NOT_RESOURCES = frozenset({"log", "manifest", "OperationOutcome"})


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One output file: its URL, the resource type its name gives, its size in bytes."""

    index: int  # position in name order: fixes the order of resources per patient
    url: str
    name: str
    resource_type: str
    size: int
    compressed: bool


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except (ImportError, ValueError) as exc:
        raise InputError(f"{url}: cannot open this location ({exc})") from None


def list_export(url: str) -> list[ExportFile]:
    """The NDJSON files of an export folder, in name order. Raises `InputError`."""
    fs, root = _filesystem(url)
    try:
        if not fs.exists(root):
            raise InputError(f"{url}: no such folder")
        if not fs.isdir(root):
            raise InputError(f"{url} is a file; give the export folder that holds the NDJSON files")
        entries = fs.ls(root, detail=True)
    except OSError as exc:
        raise InputError(f"{url}: cannot be listed ({exc})") from None
    found: list[tuple[str, str, str, int, bool]] = []
    for entry in entries:
        if entry.get("type") != "file":
            continue
        path = str(entry["name"])
        name = path.rsplit("/", 1)[-1]
        match = _NAME.match(name)
        if match is None or match[1] in _NOT_RESOURCES:
            continue
        found.append((name, path, match[1], int(entry.get("size") or 0), bool(match[2])))
    found.sort()
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    prefix = "" if protocol in ("file", "local") else f"{protocol}://"
    return [
        ExportFile(i, prefix + path, name, kind, size, gz)
        for i, (name, path, kind, size, gz) in enumerate(found)
    ]


def read_lines(file: ExportFile) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line without its end) for every non-blank line of the file.

    Local files are read with the standard library (several times faster per line than through
    fsspec's wrapper); any other URL through fsspec.
    """
    with _open(file) as handle:
        for number, line in enumerate(handle, 1):
            stripped = line.strip()
            if stripped:
                yield number, stripped


BLOCK_BYTES = 1024 * 1024  # (measured: reading in 1 MB blocks costs less CPU than 4 or 16 MB)


def read_blocks(file: ExportFile, size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The file in blocks of about `size` bytes of whole lines (each block ends with a newline,
    but maybe the file's last): for callers that work on many lines at once. A block that would
    end inside a line is completed to the line's end, so a long line makes its block longer."""
    with _open(file) as handle:
        while True:
            chunk = handle.read(size)
            if not chunk:
                return
            if chunk.endswith(b"\n"):
                yield chunk
                continue
            tail = handle.readline()
            yield chunk + tail if tail else chunk


def _open(file: ExportFile) -> IO[bytes]:
    if "://" not in file.url:
        if file.compressed:
            return gzip.open(file.url, "rb")  # type: ignore[return-value]
        return open(file.url, "rb", buffering=1024 * 1024)
    import fsspec

    compression = "gzip" if file.compressed else None
    return fsspec.open(file.url, "rb", compression=compression).open()  # type: ignore[no-any-return]
