"""The Typer application object that every command module registers on, and the consoles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import typer

if TYPE_CHECKING:
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


_CONTROLS = {c: "\ufffd" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}


def without_controls(text: str) -> str:
    """`text` with every control character but tab and line feed replaced by U+FFFD."""
    return text.translate(_CONTROLS)


def escape(text: str) -> str:
    """Record text for rich markup (tables included): no markup, no control characters."""
    from rich.markup import escape as markup_escape

    return markup_escape(without_controls(text))


class _DeferredConsole:
    """A rich Console made on first use. Importing rich's console costs about a sixth of
    `ldn --help`, which prints through Typer without it, as do `--format json` outputs.
    Every attribute is the real console's (its `__dict__` too: no instance dictionary here)."""

    __slots__ = ("_made", "_options")

    def __init__(self, **options: Any) -> None:
        object.__setattr__(self, "_options", options)
        object.__setattr__(self, "_made", None)

    def _console(self) -> Console:
        made: Console | None = self._made
        if made is None:
            from rich.console import Console

            class _Console(Console):
                """Text printed is never a terminal command: control characters from a record
                (an escape sequence in a medication name could erase the lines above it, such
                as "Screen incomplete") are shown as U+FFFD. Rich's own styling comes after."""

                def print(self, *objects: Any, **kwargs: Any) -> None:
                    shown = (without_controls(o) if isinstance(o, str) else o for o in objects)
                    super().print(*shown, **kwargs)

            made = _Console(**self._options)
            object.__setattr__(self, "_made", made)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._console(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._console(), name)


# highlight=False: rich's automatic highlighter runs a dozen regexes over every printed string,
# and some backtrack on long unbroken text (a 40,000-character medication id from a record took
# 22 s to print); our output marks up what it means to, explicitly.
console = cast("Console", _DeferredConsole(highlight=False))
err_console = cast("Console", _DeferredConsole(stderr=True, highlight=False))
