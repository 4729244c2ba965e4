"""Server configuration from environment variables and an optional TOML file.

Precedence: explicit arguments > environment (LDN_*) > TOML file (LDN_CONFIG or ./ldn.toml) >
defaults. The default database is an embedded SQLite file in the app's data folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ldn_derm.errors import InputError


def default_data_dir() -> Path:
    return Path(os.environ.get("LDN_DATA_DIR", Path.cwd() / "var")).resolve()


@dataclass(frozen=True)
class Settings:
    database_url: str = ""  # empty -> sqlite file in data_dir
    data_dir: Path = field(default_factory=default_data_dir)
    public_base_url: str = "http://127.0.0.1:8000"
    dev: bool = False
    secret_key: str = ""  # signs session cookies; generated into data_dir when empty
    allowed_origins: tuple[str, ...] = ()
    trusted_issuers: tuple[str, ...] = ()  # CDS Hooks JWT `iss` allow-list
    jwks_urls: tuple[str, ...] = ()  # per issuer, same order as trusted_issuers ("" = none)
    jwks_files: tuple[str, ...] = ()  # local JWKS files, same order
    max_body_bytes: int = 8 * 1024 * 1024

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'ldn.sqlite3'}"


_ENV = {
    "database_url": "LDN_DATABASE_URL",
    "data_dir": "LDN_DATA_DIR",
    "public_base_url": "LDN_PUBLIC_BASE_URL",
    "secret_key": "LDN_SECRET_KEY",
    "allowed_origins": "LDN_ALLOWED_ORIGINS",
    "trusted_issuers": "LDN_TRUSTED_ISSUERS",
    "jwks_urls": "LDN_JWKS_URLS",
    "jwks_files": "LDN_JWKS_FILES",
    "max_body_bytes": "LDN_MAX_BODY_BYTES",
}


def _coerce(name: str, raw: object) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if "tuple" in str(kind):
        if isinstance(raw, str):
            return tuple(x.strip() for x in raw.split(",") if x.strip())
        if isinstance(raw, list):
            return tuple(str(x) for x in raw)
    if "Path" in str(kind):
        return Path(str(raw)).resolve()
    if kind in ("int", int):
        try:
            return int(str(raw))
        except ValueError:
            raise InputError(f"setting {name} must be a whole number, got {raw!r}") from None
    if kind in ("bool", bool):
        return str(raw).lower() in {"1", "true", "yes", "on"}
    return str(raw)


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Build settings from file, environment and explicit overrides (None values are ignored)."""
    values: dict[str, object] = {}
    path = config_file or (Path(os.environ["LDN_CONFIG"]) if "LDN_CONFIG" in os.environ else None)
    if path is None and Path("ldn.toml").is_file():
        path = Path("ldn.toml")
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read config file {path}: {exc}") from None
        known = {f.name for f in fields(Settings)}
        for key, raw in data.items():
            if key not in known:
                raise InputError(f"config file {path}: unknown setting '{key}'")
            values[key] = _coerce(key, raw)
    for name, env in _ENV.items():
        if env in os.environ:
            values[name] = _coerce(name, os.environ[env])
    for key, raw in overrides.items():
        if raw is not None:
            values[key] = raw
    return replace(Settings(), **values)  # type: ignore[arg-type]
