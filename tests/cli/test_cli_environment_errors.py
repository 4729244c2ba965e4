"""Environment problems (unusable folders, unreachable databases) are one-line errors, exit 2."""

from __future__ import annotations

import pytest

from ldn_derm.cli import run


def test_unwritable_data_dir_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LDN_DATABASE_URL", raising=False)
    monkeypatch.setenv("LDN_DATA_DIR", "/proc/ldn-no-such-dir")
    assert run(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "cannot create the database folder /proc/ldn-no-such-dir" in err
    assert "internal error" not in err and "Traceback" not in err


def test_unreachable_database_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setenv("LDN_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert run(["user", "list"]) == 2
    err = capsys.readouterr().err
    assert "cannot use the database" in err
    assert "internal error" not in err and "Traceback" not in err
