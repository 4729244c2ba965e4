"""Command-line interface (`ldn`). Thin: parse arguments, call the core, render.

Every command module registers itself on `app`; heavy libraries are imported inside the
commands that need them so that `ldn --help` and `ldn assess` start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ldn_derm.cli import common  # noqa: F401  (registers commands)
from ldn_derm.cli.app import app, err_console
from ldn_derm.errors import LdnError


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status; LdnError becomes a one-line message and 2."""
    try:
        app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except LdnError as exc:
        err_console.print(f"ldn: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        err_console.print("ldn: aborted")
        return 130
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 0


def main() -> None:
    sys.exit(run())
