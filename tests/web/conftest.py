"""Fixtures for the web tests: an app with JWT verification on, keys made in the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import BASE_URL, ISSUER, Signer

from ldn_derm.web.app import create_app
from ldn_derm.web.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come only from the test: no LDN_* variables or ldn.toml from outside."""
    import os

    for name in list(os.environ):
        if name.startswith("LDN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer()


@pytest.fixture()
def secure_settings(tmp_path: Path, signer: Signer) -> Settings:
    jwks = tmp_path / "ehr-jwks.json"
    jwks.write_text(json.dumps(signer.jwks()), encoding="utf-8")
    return load_settings(
        data_dir=tmp_path / "data",
        public_base_url=BASE_URL,
        trusted_issuers=(ISSUER,),
        jwks_files=(str(jwks),),
        host="0.0.0.0",
        dev=False,
    )


@pytest.fixture()
def secure_app(secure_settings: Settings) -> FastAPI:
    return create_app(secure_settings)


@pytest.fixture()
def client(secure_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(secure_app, base_url=BASE_URL, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def dev_client(tmp_path: Path) -> Iterator[TestClient]:
    """A --dev server on loopback: CDS calls need no JWT."""
    settings = load_settings(data_dir=tmp_path / "dev-data", dev=True, host="127.0.0.1")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c
