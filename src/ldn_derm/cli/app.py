"""The Typer application object that every command module registers on."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="ldn",
    help="Decision support for low-dose naltrexone (LDN) in dermatology. "
    "It supports clinical judgement; it does not replace it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# highlight=False: rich's automatic highlighter runs a dozen regexes over every printed string,
# and some backtrack on long unbroken text (a 40,000-character medication id from a record took
# 22 s to print); our output marks up what it means to, explicitly.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
