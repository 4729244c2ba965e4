"""`ldn screen EXPORT`: the population sweep of a FHIR Bulk Data export (a worklist).

Thin: parse the options, call `ldn_derm.screen.screen_export`, print the counts. The screen
package (and Dask, pyarrow, matplotlib) is imported only when the command runs.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ldn_derm.cli.app import app, console, err_console
from ldn_derm.cli.common import AS_OF_OPTION, as_of_date
from ldn_derm.errors import InputError

if TYPE_CHECKING:
    from ldn_derm.screen import ScreenResult


class ScreenFormat(StrEnum):
    """Mirrors `ldn_derm.screen.WorklistFormat` (kept here so `ldn --help` stays fast; a test
    checks that both list the same values)."""

    csv = "csv"
    parquet = "parquet"
    json = "json"


@app.command()
def screen(
    export: str = typer.Argument(
        ...,
        help="Bulk Data export folder (Type.*.ndjson, gzip or plain), or a URL fsspec can read.",
        show_default=False,
    ),
    as_of: str | None = AS_OF_OPTION,
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Worklist file. Default: worklist.<format> here.",
        show_default=False,
    ),
    fmt: ScreenFormat = typer.Option(ScreenFormat.csv, "--format", "-f", help="Worklist format."),
    summary: Path | None = typer.Option(
        None,
        "--summary",
        help="HTML summary with plots. Default: beside the worklist, .html.",
        show_default=False,
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        help="Local worker processes. Default: one per core.",
        show_default=False,
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786): run on that cluster.",
        show_default=False,
    ),
    scratch: str | None = typer.Option(
        None,
        "--scratch",
        help="Where partition files go (a path or URL every worker can reach). "
        "Default: a private temporary folder.",
        show_default=False,
    ),
    follow_up_months: int | None = typer.Option(
        None,
        "--follow-up-months",
        help="Months without an encounter for screen-no-follow-up. "
        "Default: from screen/reasons.yaml.",
        show_default=False,
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no table."),
) -> None:
    """Screen every patient of a Bulk Data export with the same rules as `ldn assess`."""

    from ldn_derm.screen import WorklistFormat, screen_export

    day = as_of_date(as_of)
    target = out or Path(f"worklist.{fmt.value}")
    if not target.name:
        raise InputError(f"--out '{out}': give a file name")
    html = summary or target.with_suffix(".html")
    if summary is None and html == target:  # --out x.html: the summary must not replace it
        html = target.with_suffix(".summary.html")
    show_bar = not quiet and sys.stderr.isatty()
    if show_bar:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
            console=err_console, transient=True,
        ) as bar:  # fmt: skip
            tasks: dict[str, object] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

            result = screen_export(
                export, as_of=day, out=target, fmt=WorklistFormat(fmt.value), summary=html,
                workers=workers, scheduler=scheduler, scratch=scratch,
                follow_up_months=follow_up_months, progress=progress,
            )  # fmt: skip
    else:
        result = screen_export(
            export, as_of=day, out=target, fmt=WorklistFormat(fmt.value), summary=html,
            workers=workers, scheduler=scheduler, scratch=scratch,
            follow_up_months=follow_up_months,
        )  # fmt: skip
    if not quiet:
        _render(result)
    if result.patients == 0:  # said even with --quiet: a nightly job must not miss it
        err_console.print(
            f"ldn: warning: no patient was screened: {export} holds no readable Patient "
            "resource; the worklist is empty",
            markup=False,
            highlight=False,
        )
    if result.malformed:
        err_console.print(
            f"ldn: warning: {result.malformed} malformed line(s) skipped; "
            + ", ".join(f"{p.file}:{p.line}" for p in result.problems[:5])
            + (" ..." if result.malformed > 5 else "")
            + f" (all listed in {html})",
            markup=False,
            highlight=False,
        )


def _render(result: ScreenResult) -> None:
    from rich.table import Table

    from ldn_derm.cli.app import escape

    console.print(
        f"[bold]Screened[/bold] {result.patients} patient(s) as of {result.as_of.isoformat()}: "
        f"{result.rows} worklist row(s) in {escape(str(result.out))}, summary in "
        f"{escape(str(result.summary))} ({result.seconds:.1f} s, {result.engine}, "
        f"{result.workers} worker(s))",
        highlight=False,
    )
    if result.codes:
        table = Table(title="Rows per code", title_justify="left")
        table.add_column("code")
        table.add_column("rows", justify="right")
        for code, count in result.codes.most_common():
            table.add_row(code, str(count))
        console.print(table)
    notes = []
    if result.orphan_resources:
        notes.append(
            f"{result.orphan_resources} resource(s) refer to {result.orphan_patients} patient(s) "
            "not in the export and were not screened"
        )
    if result.unlinked:
        notes.append(f"{result.unlinked} resource(s) name no patient")
    if result.unreadable:
        notes.append(
            f"{result.unreadable} patient record(s) refused (listed as screen-record-unreadable)"
        )
    if result.skipped_files:
        notes.append("not opened (no rule reads them): " + ", ".join(result.skipped_files[:6]))
    for note in notes:
        console.print(f"[dim]- {escape(note)}[/dim]", highlight=False)
