"""The registry's per-app state: settings, the (lazily opened) database, templates, signer."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeTimedSerializer

from ldn_derm.registry.db import Database
from ldn_derm.registry.vocab import Role
from ldn_derm.web.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
SECRET_FILE = "secret_key"


def secret_key(settings: Settings) -> str:
    """settings.secret_key, else a random key generated once into the data folder (mode 0600),
    shared by every worker that uses the same folder."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


class RegistryWeb:
    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        self.templates.env.globals["Role"] = Role
        from ldn_derm.knowledge import get_knowledge

        self.templates.env.globals["evidence_mix"] = get_knowledge().evidence_mix()
        self._db: Database | None = database  # the app's (shared with the CDS tables)
        self._signer: URLSafeTimedSerializer | None = None
        self._lock = threading.Lock()

    @property
    def secure_cookies(self) -> bool:
        return not self.settings.dev

    @property
    def db(self) -> Database:
        if self._db is None:
            with self._lock:
                if self._db is None:
                    self._db = Database(self.settings.resolved_database_url, auto_create=True)
        return self._db

    @property
    def signer(self) -> URLSafeTimedSerializer:
        if self._signer is None:
            self._signer = URLSafeTimedSerializer(secret_key(self.settings), salt="ldn-registry")
        return self._signer


def registry_web(request: Request) -> RegistryWeb:
    state: RegistryWeb = request.app.state.registry
    return state


def client_ip(request: Request) -> str:
    """The client's address (X-Forwarded-For only from a configured trusted proxy)."""
    from ldn_derm.web.client_address import client_address

    settings: Settings = request.app.state.settings
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxies,
    )
