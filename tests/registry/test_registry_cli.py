"""`ldn db ...`, `ldn user ...` and `ldn demo-data` through the real CLI entry point."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from registry_testkit import require_postgres

from ldn_derm.cli import run
from ldn_derm.registry import auth
from ldn_derm.registry.db import Database
from ldn_derm.registry.demo import COURSES, DEMO_PASSWORD
from ldn_derm.registry.service import Registry


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LDN_DATABASE_URL", raising=False)
    monkeypatch.delenv("LDN_CONFIG", raising=False)
    monkeypatch.setenv("LDN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def db_of(data_dir: Path) -> Database:
    return Database(f"sqlite:///{data_dir / 'ldn.sqlite3'}")


def test_upgrade_user_add_and_list(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["db", "upgrade"]) == 0
    assert "is at revision 0004" in capsys.readouterr().out
    assert run(["db", "upgrade"]) == 0  # again: nothing to do
    capsys.readouterr()
    assert run(["db", "current", "-f", "json"]) == 0
    current = json.loads(capsys.readouterr().out)
    assert current["revision"] == current["head"] == "0004"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))
    assert (
        run(
            [
                "user",
                "add",
                "Carol",
                "--role",
                "clinician",
                "--clinic",
                "Skin Unit",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert "added clinician 'carol' at Skin Unit" in capsys.readouterr().out
    user = auth.authenticate(db_of(data_dir), "carol", "a long password", "127.0.0.1")
    assert user.clinic_name == "Skin Unit"
    monkeypatch.setattr(sys, "stdin", io.StringIO("another password\n"))
    assert run(["user", "add", "carol", "--role", "admin", "--password-stdin"]) == 2
    assert "already taken" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("another password\n"))
    assert run(["user", "add", "dan", "--role", "clinician", "--password-stdin"]) == 2
    assert "clinician needs a clinic" in capsys.readouterr().err
    assert run(["user", "list", "-f", "json"]) == 0
    assert [u["username"] for u in json.loads(capsys.readouterr().out)] == ["carol"]
    assert run(["user", "disable", "carol"]) == 0
    with pytest.raises(auth.AuthenticationError):
        auth.authenticate(db_of(data_dir), "carol", "a long password", "127.0.0.1")


def test_passwords_are_argon2_hashes(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(["db", "upgrade"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-enough\n"))
    assert run(["user", "add", "eve", "--role", "researcher", "--password-stdin"]) == 0
    with sqlite3.connect(data_dir / "ldn.sqlite3") as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$") and "s3cret" not in stored


def test_demo_data_loads_once_and_refuses_real_registries(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["db", "upgrade"]) == 0
    assert run(["demo-data"]) == 0
    out = capsys.readouterr()
    assert "DEMO ONLY" in out.err and "demo / demo-password" in out.err
    assert f"{len(COURSES)} synthetic patients" in out.out
    assert run(["demo-data"]) == 0
    assert "already loaded" in capsys.readouterr().out
    db = db_of(data_dir)
    researcher = auth.authenticate(db, "researcher", DEMO_PASSWORD, "127.0.0.1")
    cohort = Registry(db, researcher.actor()).cohort()
    assert {c.condition_id for c in cohort} >= {
        "psoriasis",
        "hailey-hailey-disease",
        "lichen-planopilaris",
    }
    assert any("pruritus" in c.condition_id for c in cohort)
    # a registry with a real clinic refuses demo accounts unless forced
    other = tmp = data_dir.parent / "other"
    monkeypatch.setenv("LDN_DATA_DIR", str(tmp))
    assert run(["db", "upgrade"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("long password\n"))
    assert (
        run(
            [
                "user",
                "add",
                "xavier",
                "--role",
                "clinician",
                "--clinic",
                "Real Clinic",
                "--password-stdin",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run(["demo-data"]) == 2
    assert "real clinics (Real Clinic)" in capsys.readouterr().err
    assert (other / "ldn.sqlite3").exists()


def test_online_backup_is_a_consistent_copy(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["db", "upgrade"])
    run(["demo-data"])
    target = data_dir.parent / "backups" / "registry.sqlite3"
    assert run(["db", "backup", str(target)]) == 0
    assert "integrity ok" in capsys.readouterr().out
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM visits").fetchone()[0] > 20
    assert run(["db", "backup", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert run(["db", "backup", str(target), "--force"]) == 0


def test_postgres_backup_points_to_pg_dump(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LDN_DATABASE_URL", "postgresql+psycopg://someone:pw@db.example/reg")
    assert run(["db", "backup", "x.dump"]) == 2
    err = capsys.readouterr().err
    assert "pg_dump --format=custom" in err and "pw@" not in err


@pytest.mark.postgres
def test_cli_upgrade_on_postgres(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry_testkit import drop_pg_schema, new_pg_schema

    require_postgres()
    schema, url = new_pg_schema()
    try:
        monkeypatch.setenv("LDN_DATABASE_URL", url)
        assert run(["db", "upgrade"]) == 0
        assert run(["db", "current"]) == 0
        assert "up to date" in capsys.readouterr().out
    finally:
        drop_pg_schema(schema)


def test_registry_libraries_stay_out_of_cli_start_up() -> None:
    code = (
        "import sys, ldn_derm.cli; heavy = [m for m in ('sqlalchemy', 'fastapi', 'alembic', "
        "'matplotlib', 'lifelines') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
