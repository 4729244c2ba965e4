"""Registry operations: `ldn db upgrade|downgrade|current|backup`, `ldn user add|list|disable|
enable`, `ldn demo-data`.

The database is LDN_DATABASE_URL, else an SQLite file in the data folder (LDN_DATA_DIR, default
./var). SQLAlchemy and friends are imported inside the commands, so `ldn --help` stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ldn_derm.cli.app import app, console, err_console
from ldn_derm.cli.common import FORMAT_OPTION, OutputFormat, emit_json
from ldn_derm.errors import InputError

if TYPE_CHECKING:
    from ldn_derm.registry.db import Database

db_app = typer.Typer(
    help="The outcome registry's database: migrate, check, back up.", no_args_is_help=True
)
user_app = typer.Typer(help="Registry accounts (argon2-hashed passwords).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")


class RoleChoice(StrEnum):
    clinician = "clinician"
    researcher = "researcher"
    admin = "admin"


def _url() -> str:
    from ldn_derm.web.settings import load_settings

    return load_settings().resolved_database_url


def _database() -> Database:
    from ldn_derm.registry.db import Database

    return Database(_url())


# ------------------------------------------------------------------ db


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Option("head", "--revision", help="Target revision (default: latest)."),
) -> None:
    """Create or migrate the registry tables (safe to run again)."""
    from ldn_derm.registry import migrate
    from ldn_derm.registry.db import redact

    url = _url()
    at = migrate.upgrade(url, revision)
    console.print(
        f"registry database {redact(url)} is at revision {at}", highlight=False, soft_wrap=True
    )


@db_app.command("downgrade")
def db_downgrade(
    revision: str = typer.Argument(..., help="Revision to go back to ('base' drops every table)."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: this can delete registry data."),
) -> None:
    """Undo migrations (for developers; back up first)."""
    from ldn_derm.registry import migrate
    from ldn_derm.registry.db import redact

    if not yes:
        raise InputError("downgrading can delete registry data; back up, then pass --yes")
    url = _url()
    at = migrate.downgrade(url, revision)
    console.print(
        f"registry database {redact(url)} is at revision {at or 'base'}",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("current")
def db_current(fmt: OutputFormat = FORMAT_OPTION) -> None:
    """Show the database's migration revision and the latest one this program knows."""
    from ldn_derm.registry import migrate
    from ldn_derm.registry.db import make_engine, redact

    url = _url()
    engine = make_engine(url)
    try:
        at = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if fmt is OutputFormat.json:
        emit_json({"database": redact(url), "revision": at, "head": head})
        return
    state = "up to date" if at == head else "needs `ldn db upgrade`"
    console.print(
        f"{redact(url)}: revision {at or 'none'} (latest {head}; {state})",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("backup")
def db_backup(
    path: Path = typer.Argument(..., help="File to write the backup to."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Online backup of the SQLite registry (the server may keep running). For PostgreSQL it
    prints the pg_dump command to use."""
    from ldn_derm.registry.backup import backup_sqlite

    result = backup_sqlite(_url(), path, force=force)
    console.print(
        f"backup written to {result.path} ({result.bytes:,} bytes, integrity {result.integrity})",
        highlight=False,
        soft_wrap=True,
    )


# ------------------------------------------------------------------ users


def _read_password(username: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin: no password on standard input")
        return password
    first = typer.prompt(f"Password for {username}", hide_input=True, err=True)
    second = typer.prompt("Repeat the password", hide_input=True, err=True)
    if first != second:
        raise InputError("the two passwords differ")
    return str(first)


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Login name (letters, digits, . _ @ -)."),
    role: RoleChoice = typer.Option(..., "--role", help="clinician, researcher or admin."),
    clinic: str | None = typer.Option(
        None, "--clinic", help="Clinic name (created if new). Required for clinicians."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Add a registry account. The password is asked for (twice) unless --password-stdin."""
    from ldn_derm.registry.auth import create_user

    password = _read_password(username, password_stdin)
    user = create_user(
        _database(),
        {"username": username, "password": password, "role": role.value, "clinic": clinic},
        actor=None,
    )
    where = f" at {user.clinic_name}" if user.clinic_name else ""
    console.print(
        f"added {user.role.value} '{user.username}'{where}", highlight=False, soft_wrap=True
    )


@user_app.command("list")
def user_list(fmt: OutputFormat = FORMAT_OPTION) -> None:
    """List registry accounts."""
    from ldn_derm.registry.auth import list_users

    users = list_users(_database())
    if fmt is OutputFormat.json:
        emit_json(
            [
                {
                    "username": u.username,
                    "role": u.role.value,
                    "clinic": u.clinic_name,
                    "active": u.active,
                }
                for u in users
            ]
        )
        return
    for u in users:
        state = "" if u.active else " (disabled)"
        console.print(
            f"{u.username}\t{u.role.value}\t{u.clinic_name or '-'}{state}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


@user_app.command("disable")
def user_disable(username: str = typer.Argument(...)) -> None:
    """Disable an account and end its sessions."""
    from ldn_derm.registry.auth import set_active

    set_active(_database(), username, False, actor=None)
    console.print(f"disabled '{username}'", highlight=False, soft_wrap=True)


@user_app.command("enable")
def user_enable(username: str = typer.Argument(...)) -> None:
    """Enable a disabled account."""
    from ldn_derm.registry.auth import set_active

    set_active(_database(), username, True, actor=None)
    console.print(f"enabled '{username}'", highlight=False, soft_wrap=True)


# ------------------------------------------------------------------ demo


@app.command("demo-data")
def demo_data(
    force: bool = typer.Option(
        False, "--force", help="Load even if the database already holds real clinics."
    ),
) -> None:
    """Load a synthetic demo clinic into the registry (DEMO ONLY: published passwords)."""
    from ldn_derm.registry.demo import DEMO_PASSWORD, load_demo

    result = load_demo(_database(), force=force)
    if not result.created:
        console.print(f"{result.message}; nothing to do", highlight=False, soft_wrap=True)
    else:
        console.print(
            f"{result.message}: {result.patients} synthetic patients, {result.courses} courses, "
            f"{result.visits} visits",
            highlight=False,
            soft_wrap=True,
        )
    err_console.print(
        "DEMO ONLY — synthetic patients; logins with published passwords:\n"
        f"  clinician   demo / {DEMO_PASSWORD}\n"
        f"  researcher  researcher / {DEMO_PASSWORD}\n"
        "Never load demo data into a registry that holds real patients.",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
