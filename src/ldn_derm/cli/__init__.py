"""Command-line interface (`ldn`). Thin: parse arguments, call the core, render.

Every command module registers itself on `app`; heavy libraries are imported inside the
commands that need them so that `ldn --help` and `ldn assess` start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer
from typer.exceptions import TyperException

from ldn_derm.cli import (  # noqa: F401  (registers commands)
    assess,
    common,
    knowledge_cmds,
    prescribe,
    registry_cmds,
    screen,
    serve,
    simulate,
)
from ldn_derm.cli.app import app, err_console
from ldn_derm.errors import LdnError


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status; LdnError becomes a one-line message and 2."""
    try:
        app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except LdnError as exc:
        err_console.print(f"ldn: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err_console.print("ldn: aborted")
        return 130
    except TyperException as exc:  # usage errors: bad option, missing argument...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"ldn: error: {exc}", markup=False)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the environment, not a bug: a folder or file we cannot use
        where = f": {exc.filename}" if exc.filename else ""
        err_console.print(f"ldn: error: {exc.strerror or exc}{where}", markup=False)
        return 2
    except Exception as exc:  # a bug: say so in one line, keep the traceback for LDN_DEBUG
        if _is_database_unreachable(exc):
            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            err_console.print(f"ldn: error: cannot use the database: {first}", markup=False)
            return 2
        if os.environ.get("LDN_DEBUG"):
            raise
        err_console.print(
            f"ldn: internal error ({type(exc).__name__}: {exc}); "
            "please report it (set LDN_DEBUG=1 to see the details)",
            markup=False,
        )
        return 1
    return 0


def _is_database_unreachable(exc: Exception) -> bool:
    """SQLAlchemy's connection errors, recognised without importing SQLAlchemy here."""
    kind = type(exc)
    return kind.__module__ == "sqlalchemy.exc" and kind.__name__ in {
        "OperationalError",
        "InterfaceError",
    }


def main() -> None:
    sys.exit(run())
