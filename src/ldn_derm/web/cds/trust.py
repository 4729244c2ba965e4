"""Trusting CDS clients (CDS Hooks 2.0 §Trusting CDS Clients).

Every call carries `Authorization: Bearer <JWT>` signed by the EHR. We check: an asymmetric
algorithm from the allow-list (never `none` or HMAC), `kid` in the issuer's JWKS, `iss` on the
allow-list, `aud` equal to the URL being called, `exp`, `iat`, and that `jti` was not used
before (the replay cache is in the database, shared by all workers). Tokens are never logged.
The JWKS comes from a configured URL (cached, refreshed on expiry or on an unknown `kid`) or a
local file; a `jku` header is never followed, because that would let the caller pick the keys.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # loaded by jwt anyway

from ldn_derm.web.cds.store import MemoryReplayCache, ReplayCache
from ldn_derm.web.settings import Settings

log = logging.getLogger("ldn_derm.web.cds.trust")


MAX_JWKS_BYTES = 256 * 1024
# A CDS Hooks JWT is a few hundred bytes (header, iss, aud, exp, iat, jti, maybe tenant); its
# size is checked before any parsing or signature work, the jti's before the key is looked up.
MAX_TOKEN_BYTES = 8 * 1024
MAX_JTI_CHARS = 256


class UntrustedError(Exception):
    """The caller is not authenticated; the message is for our log, never the token itself."""


@dataclass
class _KeySet:
    keys: dict[str, jwt.PyJWK]
    loaded_at: float
    source_mtime: float = 0.0
    checked_at: float = 0.0


class JwksStore:
    """Public keys per trusted issuer, from a JWKS URL (cached) or a local JWKS file."""

    # an unknown kid triggers a refetch at most this often, so junk tokens cannot hammer the EHR
    MIN_REFRESH_SECONDS = 30.0
    FILE_CHECK_SECONDS = 5.0

    def __init__(self, settings: Settings) -> None:
        self.sources = settings.issuer_keys
        self.ttl = float(settings.jwks_cache_seconds)
        self.timeout = settings.fhir_timeout_seconds
        self._cache: dict[str, _KeySet] = {}
        self._lock = threading.Lock()
        self._refreshing: dict[str, threading.Thread] = {}

    def key_for(self, issuer: str, kid: str) -> jwt.PyJWK:
        if issuer not in self.sources:
            raise UntrustedError(f"issuer {_shown(issuer)} is not trusted")
        first = self._refreshing.get(issuer)
        if first is not None and issuer not in self._cache:
            first.join(self.timeout + 1)  # the start-up fetch is under way: wait, don't repeat
        keyset = self._load(issuer, force=False)
        if (
            kid not in keyset.keys
            and time.monotonic() - keyset.loaded_at > self.MIN_REFRESH_SECONDS
        ):
            keyset = self._load(issuer, force=True)  # the EHR may have rotated its keys
        try:
            return keyset.keys[kid]
        except KeyError:
            raise UntrustedError(f"kid {_shown(kid)} not in the JWKS of {issuer!r}") from None

    def _load(self, issuer: str, force: bool) -> _KeySet:
        url, path = self.sources[issuer]
        with self._lock:
            cached = self._cache.get(issuer)
            now = time.monotonic()
            if path:
                # a local file is re-read when it changes; its mtime is looked at every few s
                if cached and not force and now - cached.checked_at < self.FILE_CHECK_SECONDS:
                    return cached
                mtime = Path(path).stat().st_mtime if Path(path).exists() else 0.0
                if cached and cached.source_mtime == mtime and not force:
                    cached.checked_at = now
                    return cached
                data = _read_json(Path(path).read_bytes()) if mtime else {"keys": []}
                keyset = _KeySet(_parse_jwks(data), now, mtime, checked_at=now)
                if url and not keyset.keys:
                    keyset = _KeySet(self._fetch(url), now)
            elif url:
                if cached and not force:
                    if now - cached.loaded_at >= self.ttl:
                        self._refresh_in_background(issuer)  # stale-while-revalidate
                    return cached
                try:
                    keyset = _KeySet(self._fetch(url), now)
                except UntrustedError:
                    if cached:  # keep serving the last good keys if the EHR is briefly down
                        cached.loaded_at = now - self.ttl + self.MIN_REFRESH_SECONDS
                        return cached
                    raise
            else:
                raise UntrustedError(f"no JWKS configured for issuer {issuer!r}")
            self._cache[issuer] = keyset
            return keyset

    def warm_up(self) -> None:
        """Fetch every issuer's JWKS URL in the background, so no request waits for it."""
        for issuer, (url, path) in self.sources.items():
            if url and not path:
                self._refresh_in_background(issuer)

    def _refresh_in_background(self, issuer: str) -> None:
        # called with or without self._lock held; the refresh thread takes the lock itself
        if issuer in self._refreshing:
            return

        def refresh() -> None:
            try:
                keys = self._fetch(self.sources[issuer][0])
                with self._lock:
                    self._cache[issuer] = _KeySet(keys, time.monotonic())
            except UntrustedError as exc:
                log.warning("JWKS refresh for %s failed: %s", issuer, exc)
            finally:
                self._refreshing.pop(issuer, None)

        thread = threading.Thread(target=refresh, name="jwks-refresh", daemon=True)
        self._refreshing[issuer] = thread
        thread.start()

    def _fetch(self, url: str) -> dict[str, jwt.PyJWK]:
        import httpx

        try:
            with httpx.stream("GET", url, timeout=self.timeout, follow_redirects=False) as response:
                response.raise_for_status()
                raw = b""
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_JWKS_BYTES:  # a JWKS is a few keys, never megabytes
                        raise ValueError("the JWKS is too large")
            return _parse_jwks(_read_json(raw))
        except (httpx.HTTPError, ValueError) as exc:
            raise UntrustedError(f"cannot fetch JWKS from {url}: {type(exc).__name__}") from None


def _read_json(raw: bytes) -> dict[str, Any]:
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a JWKS is a JSON object")
    return data


def _parse_jwks(data: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for raw in data.get("keys", []):
        if not isinstance(raw, dict) or raw.get("kty") not in {"EC", "RSA"}:
            continue  # symmetric (oct) keys can never verify a CDS Hooks JWT
        if raw.get("use", "sig") != "sig" or "kid" not in raw:
            continue
        try:
            keys[str(raw["kid"])] = jwt.PyJWK(raw)
        except jwt.PyJWTError:
            log.warning("ignoring an unusable key %r in a JWKS", raw.get("kid"))
    return keys


@dataclass(frozen=True)
class Caller:
    issuer: str
    tenant: str | None


class ClientVerifier:
    def __init__(self, settings: Settings, replay: ReplayCache | MemoryReplayCache) -> None:
        self.settings = settings
        self.algorithms = list(settings.jwt_algorithms)
        self.jwks = JwksStore(settings)
        self.replay = replay

    def verify(self, authorization: str | None, audiences: list[str]) -> Caller:
        if not authorization:
            raise UntrustedError("no Authorization header")
        if len(authorization) > MAX_TOKEN_BYTES:
            raise UntrustedError(
                f"Authorization header of {len(authorization):,} bytes "
                f"(at most {MAX_TOKEN_BYTES:,})"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UntrustedError("Authorization is not a Bearer token")
        # One strict parse of the compact JWS, then one signature check with the issuer's key.
        parts = token.strip().encode("ascii", "replace").split(b".")
        if len(parts) != 3:
            raise UntrustedError("malformed JWT (not three segments)")
        try:
            header = orjson.loads(_b64url(parts[0]))
            claims = orjson.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
        except (ValueError, orjson.JSONDecodeError):
            raise UntrustedError("malformed JWT (bad base64url or JSON)") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise UntrustedError("malformed JWT (header or claims not an object)")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise UntrustedError("jti missing")
        if len(jti) > MAX_JTI_CHARS:
            raise UntrustedError(f"jti of {len(jti):,} characters (at most {MAX_JTI_CHARS})")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise UntrustedError(f"algorithm {_shown(alg)} not accepted")
        if str(header.get("typ", "JWT")).upper() != "JWT":
            raise UntrustedError("typ is not JWT")
        if "crit" in header:
            raise UntrustedError("critical header extensions are not supported")
        kid = header.get("kid")
        issuer = claims.get("iss")
        if not isinstance(kid, str) or not isinstance(issuer, str):
            raise UntrustedError("kid or iss missing")
        key = self.jwks.key_for(issuer, kid)
        declared = key._jwk_data.get("alg")  # a JWK that names its algorithm binds to it
        if declared is not None and declared != alg:
            raise UntrustedError("the key's declared alg differs from the token's")
        if not _key_fits(alg, key.key):
            raise UntrustedError(f"the key for kid {_shown(kid)} cannot verify {alg}")
        algorithm = _ALGORITHMS[alg]
        if not algorithm.verify(parts[0] + b"." + parts[1], key.key, signature):
            raise UntrustedError("bad signature")
        self._check_claims(claims, audiences)
        keep_until = int(claims["exp"]) + self.settings.jwt_leeway_seconds
        if not self.replay.first_use(issuer, jti, keep_until):
            raise UntrustedError("jti replayed")
        tenant = claims.get("tenant")
        return Caller(issuer=issuer, tenant=tenant if isinstance(tenant, str) else None)

    def _check_claims(self, claims: dict[str, Any], audiences: list[str]) -> None:
        for name in ("iss", "aud", "exp", "iat", "jti"):
            if name not in claims:
                raise UntrustedError(f"claim {name} missing")
        now = time.time()
        leeway = self.settings.jwt_leeway_seconds
        exp, iat = claims["exp"], claims["iat"]
        for name, value in (("exp", exp), ("iat", iat), ("nbf", claims.get("nbf", 0))):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UntrustedError(f"{name} is not a number")
        if exp < now - leeway:
            raise UntrustedError("token expired")
        if iat > now + leeway:
            raise UntrustedError("iat is in the future")
        if claims.get("nbf", 0) > now + leeway:
            raise UntrustedError("token not yet valid (nbf)")
        if exp - now > self.settings.jwt_max_lifetime_seconds + leeway:
            raise UntrustedError("token lifetime exceeds the allowed maximum")
        aud = claims["aud"]
        given = [aud] if isinstance(aud, str) else aud
        if not isinstance(given, list) or not any(a in audiences for a in given):
            raise UntrustedError("aud is not this endpoint")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise UntrustedError("jti missing")


_B64URL = re.compile(rb"[A-Za-z0-9_-]*")
_ALGORITHMS = jwt.algorithms.get_default_algorithms()
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}


def _shown(value: Any) -> str:
    """A value from the token for the log: repr (no raw newlines), at most 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _b64url(segment: bytes) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2), as JWS compact serialization requires."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _key_fits(alg: str, key: Any) -> bool:
    """RS*/PS* need an RSA public key; ES* an EC key on the algorithm's curve."""
    if alg.startswith(("RS", "PS")):
        return isinstance(key, rsa.RSAPublicKey)
    if alg in _CURVES:
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == _CURVES[alg]
    return False
