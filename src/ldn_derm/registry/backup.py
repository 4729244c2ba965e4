"""`ldn db backup`: an online, consistent copy of the SQLite registry.

Uses SQLite's backup API, which copies a consistent snapshot while the server keeps running
(writers wait only for the few milliseconds each step holds the lock). The copy is written to a
temporary file beside the destination, checked with PRAGMA integrity_check, then renamed into
place, so a failed backup never leaves a half-written file under the requested name.
PostgreSQL is backed up with its own tool, pg_dump (see docs/registry.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ldn_derm.errors import InputError
from ldn_derm.registry.db import is_sqlite, redact, sqlite_path


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    integrity: str


def pg_dump_hint(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    target = parsed.set(drivername="postgresql").render_as_string(hide_password=True)
    return f"pg_dump --format=custom --file=BACKUP.dump '{target}'"


def backup_sqlite(url: str, dest: Path, force: bool = False) -> BackupResult:
    if not is_sqlite(url):
        raise InputError(
            f"{redact(url)} is PostgreSQL: back it up with pg_dump, e.g. {pg_dump_hint(url)}"
        )
    source = sqlite_path(url)
    if source is None or not source.is_file():
        raise InputError(f"no registry database at {source}; nothing to back up")
    dest = dest.resolve()
    if dest == source.resolve():
        raise InputError("the backup must go to a different file than the database")
    if dest.exists() and not force:
        raise InputError(f"{dest} already exists; choose another name or pass --force")
    if dest.is_dir():
        raise InputError(f"{dest} is a folder; give a file name for the backup")
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        return _copy(source, dest, tmp)
    except (OSError, sqlite3.Error) as exc:  # unwritable place, full disk, locked file...
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write the backup to {dest} ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


def _copy(source: Path, dest: Path, tmp: Path) -> BackupResult:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=256, sleep=0.005)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            integrity = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            dst.close()
    finally:
        src.close()
    if integrity != "ok":
        tmp.unlink(missing_ok=True)
        raise InputError(f"the backup copy failed its integrity check: {integrity}")
    os.replace(tmp, dest)
    return BackupResult(dest, dest.stat().st_size, integrity)
