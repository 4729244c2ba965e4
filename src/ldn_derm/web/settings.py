"""Server configuration from environment variables and an optional TOML file.

Precedence: explicit arguments > environment (LDN_*) > TOML file (LDN_CONFIG or ./ldn.toml) >
defaults. The default database is an embedded SQLite file in the app's data folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

from ldn_derm.errors import InputError


def default_data_dir() -> Path:
    return Path(os.environ.get("LDN_DATA_DIR", Path.cwd() / "var")).resolve()


@dataclass(frozen=True)
class Settings:
    database_url: str = ""  # empty -> sqlite file in data_dir
    data_dir: Path = field(default_factory=default_data_dir)
    # the URL EHRs and browsers use; when not configured, load_settings derives it from the
    # host and port being served (`ldn serve --host --port`), so card links follow the port
    public_base_url: str = "http://127.0.0.1:8000"
    dev: bool = False
    secret_key: str = ""  # signs session cookies; generated into data_dir when empty
    allowed_origins: tuple[str, ...] = ()
    trusted_issuers: tuple[str, ...] = ()  # CDS Hooks JWT `iss` allow-list
    jwks_urls: tuple[str, ...] = ()  # per issuer, same order as trusted_issuers ("" = none)
    jwks_files: tuple[str, ...] = ()  # local JWKS files, same order
    # FHIR base URLs each issuer may send as fhirServer, same order; several separated by
    # spaces; "" = any http(s) URL. Without it a trusted EHR can make us read any URL.
    fhir_servers: tuple[str, ...] = ()
    max_body_bytes: int = 8 * 1024 * 1024
    # where the server listens (set by `ldn serve`); JWT checks are only skipped for --dev on
    # a loopback address, so a dev server reachable from the network still verifies callers
    host: str = "127.0.0.1"
    port: int = 8000  # the port `ldn serve` listens on (LDN_PORT)
    jwt_algorithms: tuple[str, ...] = ("ES384", "RS384")  # asymmetric only, never none/HS*
    jwt_max_lifetime_seconds: int = 3600  # tokens valid longer than this are refused
    jwt_leeway_seconds: int = 60  # clock skew allowed on exp/iat
    jwks_cache_seconds: int = 300  # how long a fetched JWKS is trusted before refetching
    fhir_timeout_seconds: float = 5.0  # per FHIR read when the prefetch lacks a key
    # "database": shared by every worker and host (default); "memory": per process, faster,
    # but a token replayed to another worker is not caught (use with a single worker only)
    jti_cache: str = "database"
    # Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed; () = none: the
    # TCP peer is the client (see ldn_derm.web.client_address)
    trusted_proxies: tuple[str, ...] = ()
    # A request body must arrive within this many seconds (slow clients get 408)
    body_timeout_seconds: float = 30.0
    # SMART App Launch (the web app as a SMART client; see docs/web.md "SMART on FHIR launch")
    smart_client_id: str = ""  # as registered in the EHR; empty: SMART launch is off (but --dev)
    smart_client_secret: str = ""  # confidential client (client_secret_basic); empty: public
    smart_issuers: tuple[str, ...] = ()  # FHIR bases (`iss`) allowed to launch the app
    smart_redirect_url: str = ""  # public URL of /smart/callback; "" = public_base_url + path
    smart_launch_url: str = ""  # public URL of /smart/launch for CDS cards ("smart" links)
    smart_session_seconds: int = 3600  # a launch's session (and its tokens) ends after this
    smart_write_drafts: bool = False  # also ask for patient/MedicationRequest.c (draft orders)

    @property
    def smart_enabled(self) -> bool:
        """SMART launch is offered when a client id is configured, or on a loopback dev server."""
        return bool(self.smart_client_id) or self.smart_dev_loopback

    @property
    def smart_dev_loopback(self) -> bool:
        """--dev on a loopback address: a loopback issuer may launch without configuration."""
        return self.dev and is_loopback(self.host)

    def smart_issuer_allowed(self, iss: str) -> bool:
        """`iss` is a configured SMART issuer (or under one), or a loopback FHIR base on a
        loopback dev server."""
        from urllib.parse import urlsplit

        try:
            base = fhir_base(iss)
        except ValueError:
            return False
        if self.smart_issuers and under_bases(base, _fhir_bases(" ".join(self.smart_issuers))):
            return True
        return self.smart_dev_loopback and is_loopback(urlsplit(base).hostname or "")

    @property
    def verify_jwt(self) -> bool:
        """CDS Hooks callers must present a signed JWT unless this is a loopback dev server."""
        return not (self.dev and is_loopback(self.host))

    @property
    def issuer_keys(self) -> dict[str, tuple[str, str]]:
        """Trusted issuer -> (JWKS URL, JWKS file); either may be empty."""
        out: dict[str, tuple[str, str]] = {}
        for i, iss in enumerate(self.trusted_issuers):
            url = self.jwks_urls[i] if i < len(self.jwks_urls) else ""
            path = self.jwks_files[i] if i < len(self.jwks_files) else ""
            out[iss] = (url, path)
        return out

    def fhir_servers_for(self, issuer: str | None) -> tuple[str, ...]:
        """The fhirServer base URLs allowed for this issuer; () when any is allowed."""
        if issuer is None or issuer not in self.trusted_issuers:
            return ()
        i = self.trusted_issuers.index(issuer)
        listed = self.fhir_servers[i] if i < len(self.fhir_servers) else ""
        return _fhir_bases(listed)

    @property
    def listed_fhir_servers(self) -> tuple[str, ...]:
        """Every fhirServer base named in `fhir_servers`, whatever the issuer: all that a
        `--dev` server without JWT checks may read (nothing when none is listed)."""
        return _fhir_bases(" ".join(self.fhir_servers))

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
    "fhir_servers": "LDN_FHIR_SERVERS",
    "max_body_bytes": "LDN_MAX_BODY_BYTES",
    "dev": "LDN_DEV",
    "host": "LDN_HOST",
    "port": "LDN_PORT",
    "jwt_algorithms": "LDN_JWT_ALGORITHMS",
    "jwt_max_lifetime_seconds": "LDN_JWT_MAX_LIFETIME_SECONDS",
    "jwt_leeway_seconds": "LDN_JWT_LEEWAY_SECONDS",
    "jwks_cache_seconds": "LDN_JWKS_CACHE_SECONDS",
    "fhir_timeout_seconds": "LDN_FHIR_TIMEOUT_SECONDS",
    "jti_cache": "LDN_JTI_CACHE",
    "trusted_proxies": "LDN_TRUSTED_PROXIES",
    "body_timeout_seconds": "LDN_BODY_TIMEOUT_SECONDS",
    "smart_client_id": "LDN_SMART_CLIENT_ID",
    "smart_client_secret": "LDN_SMART_CLIENT_SECRET",
    "smart_issuers": "LDN_SMART_ISSUERS",
    "smart_redirect_url": "LDN_SMART_REDIRECT_URL",
    "smart_launch_url": "LDN_SMART_LAUNCH_URL",
    "smart_session_seconds": "LDN_SMART_SESSION_SECONDS",
    "smart_write_drafts": "LDN_SMART_WRITE_DRAFTS",
}

# Settings given per trusted issuer, in the order of trusted_issuers.
PER_ISSUER = ("jwks_urls", "jwks_files", "fhir_servers")

# CDS Hooks forbids `none` and symmetric (HMAC) algorithms; ES384 and RS384 are recommended.
ASYMMETRIC_ALGORITHMS = (
    "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"
)  # fmt: skip


def fhir_base(url: str) -> str:
    """`url` as a canonical FHIR base, `scheme://host[:port]/path/`, parsed the way httpx will
    send it. ValueError for anything but a plain http(s) base: no host, userinfo, a query or
    fragment, or `.`/`..` path segments (raw or percent-encoded), which would let a request
    leave the listed path once resolved."""
    from urllib.parse import unquote, urlsplit

    import httpx

    text = url.strip()
    path = urlsplit(text).path
    if any(unquote(seg) in {".", ".."} for seg in path.split("/")):
        raise ValueError("dot segments in the path")
    if any(c in path.lower() for c in (";", "\\", "%2f", "%5c")):
        # path parameters (`..;`), backslashes and encoded slashes: servers differ on them
        raise ValueError("';', '\\' or an encoded slash in the path")
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(str(exc)) from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ValueError("not an http(s) URL with a host")
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise ValueError("user info, a query or a fragment")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ValueError("a port outside 1-65535")
    port = f":{parsed.port}" if parsed.port is not None else ""  # None: the scheme's default
    path = parsed.raw_path.decode("ascii").rstrip("/") + "/"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host  # an IPv6 literal
    return f"{parsed.scheme}://{host}{port}{path}"


@lru_cache(maxsize=64)
def _fhir_bases(listed: str) -> tuple[str, ...]:
    """The canonical bases of one issuer's space-separated list (parsed once, not per call)."""
    return tuple(fhir_base(url) for url in listed.split())


def fhir_server_allowed(server: str, allowed: tuple[str, ...]) -> bool:
    """True when `server` is a plain http(s) base that is one of the allowed bases or lies
    under one (an empty list allows any such base)."""
    try:
        base = fhir_base(server)
    except ValueError:
        return False
    return under_bases(base, allowed)


def under_bases(canonical: str, allowed: tuple[str, ...]) -> bool:
    """A canonical base (from `fhir_base`) that is one of `allowed` or lies under one."""
    return not allowed or any(canonical.startswith(a) for a in allowed)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in {"localhost", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _coerce(name: str, raw: object) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if "tuple" in str(kind):
        if isinstance(raw, str):
            items = [x.strip() for x in raw.split(",")]
            if name in PER_ISSUER:  # "" is meaningful (none / any) and keeps the positions
                while items and not items[-1]:
                    items.pop()  # but a trailing comma adds no issuer
                return tuple(items)
            return tuple(x for x in items if x)
        if isinstance(raw, list):
            return tuple(str(x) for x in raw)
    if "Path" in str(kind):
        return Path(str(raw)).resolve()
    if kind in ("float", float):
        try:
            return float(str(raw))
        except ValueError:
            raise InputError(f"setting {name} must be a number, got {raw!r}") from None
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
    if "public_base_url" not in values:
        values["public_base_url"] = served_base_url(
            str(values.get("host", Settings.host)), int(str(values.get("port", Settings.port)))
        )
    settings = replace(Settings(), **values)  # type: ignore[arg-type]
    _check(settings)
    return settings


WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def served_base_url(host: str, port: int) -> str:
    """The base URL of a server listening on `host`:`port`, as this machine reaches it (a
    wildcard address is reached on the loopback address). Set public_base_url for others."""
    name = "127.0.0.1" if host in WILDCARD_HOSTS else host
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}:{port}"


def _check(settings: Settings) -> None:
    bad = [a for a in settings.jwt_algorithms if a not in ASYMMETRIC_ALGORITHMS]
    if bad:
        raise InputError(
            f"jwt_algorithms may only name asymmetric signature algorithms "
            f"({', '.join(ASYMMETRIC_ALGORITHMS)}); got {', '.join(bad)}. CDS Hooks forbids "
            "none and HMAC (symmetric) algorithms"
        )
    issuers = len(settings.trusted_issuers)
    per_issuer = (settings.jwks_urls, settings.jwks_files, settings.fhir_servers)
    if any(len(values) > issuers for values in per_issuer):
        raise InputError(
            "jwks_urls, jwks_files and fhir_servers are given per trusted issuer, in the same "
            "order; there are more of them than trusted_issuers"
        )
    for listed in settings.fhir_servers:
        for url in listed.split():
            try:
                fhir_base(url)
            except ValueError as exc:
                raise InputError(
                    f"fhir_servers: {url[:200]!r} is not a plain http(s) FHIR base URL ({exc})"
                ) from None
    if settings.jti_cache not in {"database", "memory"}:
        raise InputError(f"jti_cache must be 'database' or 'memory' (got {settings.jti_cache!r})")
    from ldn_derm.web.client_address import parse_networks

    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise InputError(f"trusted_proxies: {exc}") from None
    if not 0 < settings.body_timeout_seconds <= 3600:
        raise InputError("body_timeout_seconds must be more than 0 and at most 3600")
    for iss in settings.smart_issuers:
        try:
            fhir_base(iss)
        except ValueError as exc:
            raise InputError(
                f"smart_issuers: {iss[:200]!r} is not a plain http(s) FHIR base URL ({exc})"
            ) from None
    if not 60 <= settings.smart_session_seconds <= 24 * 3600:
        raise InputError("smart_session_seconds must be between 60 and 86400")
    if settings.max_body_bytes < 1024:
        raise InputError("max_body_bytes must be at least 1024")
