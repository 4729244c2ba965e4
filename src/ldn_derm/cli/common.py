"""Options shared by several commands, and the root callback (`--version`)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

import typer

from ldn_derm import __version__
from ldn_derm.cli.app import app, console


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


FORMAT_OPTION = typer.Option(OutputFormat.text, "--format", "-f", help="Output format.")
AS_OF_OPTION = typer.Option(
    None,
    "--as-of",
    help="Date that fixes 'current' and 'recent' (YYYY-MM-DD). Default: today.",
    show_default=False,
)


def as_of_date(value: str | None) -> date:
    """The --as-of date (a clear error for a malformed one), or today."""
    from ldn_derm.patient.dates import parse_user_date

    return parse_user_date(value, "--as-of") if value is not None else date.today()


def _version(value: bool) -> None:
    if value:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
        console.print(
            f"ldn-derm {__version__} (knowledge base {kb.meta.version}, "
            f"reviewed {kb.meta.reviewed.isoformat()})",
            highlight=False,
        )
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show versions and exit."
    ),
) -> None:
    """Decision support for low-dose naltrexone (LDN) in dermatology."""


def emit_json(data: object) -> None:
    """Print JSON to stdout (orjson: fast, and dates/enums serialise cleanly)."""
    import orjson

    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
