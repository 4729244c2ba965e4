"""Writing the worklist (csv, parquet, json) and the HTML summary.

Every file holds patient data, so each one is written to a temporary file created with
owner-only permissions (0600) in the target folder and renamed over the target at the end:
a reader never sees half a file, and a failed run leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from ldn_derm.errors import InputError

if TYPE_CHECKING:
    from ldn_derm.screen.run import ScreenResult

COLUMNS = ("patient", "code", "severity", "summary", "triggered_by", "references")


class WorklistFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


def check_target(path: Path, option: str) -> None:
    """Refuse, before any work, an output `path` that cannot be written: no file name, a
    folder, or a folder that does not exist (a run that fails at the end would have screened
    for nothing)."""
    if not path.name or path.name in (".", ".."):
        raise InputError(f"{option} '{path}': give a file name")
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{option} {path}: no such folder {folder}")


@contextlib.contextmanager
def atomic_private_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary handle on a 0600 temporary file that replaces `path` when the block succeeds."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder for the output")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_worklist(rows: Iterable[dict[str, Any]], path: Path, fmt: WorklistFormat) -> None:
    """Stream `rows` into `path` (never all in memory)."""
    with atomic_private_file(path) as handle:
        if fmt is WorklistFormat.json:
            _write_json(rows, handle)
        elif fmt is WorklistFormat.csv:
            _write_csv(rows, handle)
        elif fmt is WorklistFormat.parquet:
            _write_parquet(rows, handle)
        else:
            raise InputError(f"unknown worklist format '{fmt}'")


def _write_json(rows: Iterable[dict[str, Any]], handle: IO[bytes]) -> None:
    handle.write(b"[")
    first = True
    for row in rows:
        handle.write(b"\n" if first else b",\n")
        handle.write(orjson.dumps({k: row[k] for k in COLUMNS}))
        first = False
    handle.write(b"\n]\n" if not first else b"]\n")


def _write_csv(rows: Iterable[dict[str, Any]], handle: IO[bytes]) -> None:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row["patient"],
                row["code"],
                row["severity"],
                row["summary"],
                ";".join(row["triggered_by"]),
                ";".join(row["references"]),
            ]
        )
    text.flush()
    text.detach()  # leave the binary handle open for the atomic writer


def _write_parquet(rows: Iterable[dict[str, Any]], handle: IO[bytes], batch: int = 50_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("patient", pa.string()),
            ("code", pa.string()),
            ("severity", pa.string()),
            ("summary", pa.string()),
            ("triggered_by", pa.list_(pa.string())),
            ("references", pa.list_(pa.string())),
        ]
    )
    with pq.ParquetWriter(handle, schema) as writer:
        buffer: list[dict[str, Any]] = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= batch:
                writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                buffer.clear()
        writer.write_table(pa.Table.from_pylist(buffer, schema=schema))


def write_summary(result: ScreenResult, path: Path) -> None:
    """The HTML summary: counts per code and candidacy, plots, problems, timings."""
    from importlib import resources

    from jinja2 import Environment, select_autoescape

    from ldn_derm.screen.reasons import reason_book

    template = resources.files("ldn_derm.screen").joinpath("summary.html.j2").read_text("utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(template).render(
        r=result,
        codes=result.codes.most_common(),
        candidacy=result.candidacy.most_common(),
        reasons={x.code: " ".join(x.basis.split()) for x in reason_book().reasons},
        codes_plot=_bar_svg(dict(result.codes.most_common(25)), "Worklist rows per code"),
        candidacy_plot=_bar_svg(dict(result.candidacy.most_common()), "Patients per candidacy"),
    )
    with atomic_private_file(path) as handle:
        handle.write(html.encode())


def _bar_svg(counts: dict[str, int], title: str) -> str:
    if not counts:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(counts)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(labels) + 1.0))
    ax.barh(labels, [counts[k] for k in labels], color="#4a6fa5")
    ax.set_title(title)
    ax.set_xlabel("count")
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.find("<svg") :]
