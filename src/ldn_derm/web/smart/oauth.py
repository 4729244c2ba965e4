"""The OAuth 2 side of SMART App Launch: discovery, the authorization request, token exchange
and refresh. The protocol (state, PKCE S256, the token request, client authentication) is
authlib's `AsyncOAuth2Client`; this module only supplies SMART's parameters."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from ldn_derm.web.settings import Settings, fhir_base
from ldn_derm.web.smart.errors import EhrUnavailableError, SmartLaunchError

# authlib prefers the `httpx2` package and warns once when it falls back to httpx, which this
# project uses everywhere; that one warning (and no other) is silenced, and the client is
# imported here, once, when the app is built.
warnings.filterwarnings("ignore", message=r"The httpx module is deprecated")
from authlib.integrations.httpx_client import AsyncOAuth2Client  # noqa: E402

# SMART v2 scopes, as narrow as the rules need (read + search of what the core reads).
READ_TYPES = (
    "Patient",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Medication",
    "Observation",
    "AllergyIntolerance",
)
REQUIRED_TYPES = ("Patient", "Condition", "MedicationRequest")  # as the CDS service requires
# least privilege: no openid/fhirUser (the app never reads an id_token or the user's identity)
BASE_SCOPES = ("launch", *(f"patient/{t}.rs" for t in READ_TYPES))
STANDALONE_SCOPES = ("launch/patient",)
DEV_CLIENT_ID = "ldn-derm-dev"
MAX_DISCOVERY_BYTES = 256 * 1024


WRITE_SCOPES = ("patient/MedicationRequest.c",)  # only with smart_write_drafts


def requested_scopes(ehr_launch: bool, write_drafts: bool = False) -> str:
    scopes = [s for s in BASE_SCOPES if ehr_launch or s != "launch"]
    if not ehr_launch:
        scopes += STANDALONE_SCOPES
    if write_drafts:
        scopes += WRITE_SCOPES
    return " ".join(scopes)


_SCOPE = re.compile(r"^(patient|user)/(\*|[A-Za-z]+)\.([a-z*]+)(\?.*)?$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


def granted(scope: str, resource_type: str, permission: str) -> bool:
    """Does the granted `scope` string allow `permission` (one of c r u d s) on the patient's
    `resource_type`? Understands SMART v2 (`patient/X.rs`) and v1 (`patient/X.read`)."""
    for item in scope.split():
        m = _SCOPE.match(item)
        if m is None or m.group(2) not in {"*", resource_type}:
            continue
        perms = _V1.get(m.group(3), m.group(3))
        if permission in perms:
            return True
    return False


@dataclass(frozen=True)
class SmartConfiguration:
    issuer: str  # the FHIR base (`iss`), canonical
    authorization_endpoint: str
    token_endpoint: str


async def discover(iss: str, timeout: float) -> SmartConfiguration:
    """Read `{iss}/.well-known/smart-configuration` (bounded, no redirects)."""
    import httpx
    import orjson

    base = fhir_base(iss)
    url = base + ".well-known/smart-configuration"
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise EhrUnavailableError(
            f"The EHR's authorization details could not be read from {url} ({type(exc).__name__})."
        ) from None
    if response.status_code != 200 or len(response.content) > MAX_DISCOVERY_BYTES:
        raise EhrUnavailableError(
            f"The EHR's authorization details at {url} answered HTTP {response.status_code}."
        )
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise EhrUnavailableError(f"The EHR's authorization details at {url} are not JSON.")
    endpoints = {}
    for key in ("authorization_endpoint", "token_endpoint"):
        value = data.get(key)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise EhrUnavailableError(f"The EHR's authorization details lack a usable {key}.")
        endpoints[key] = value
    methods = data.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise SmartLaunchError(
            "The EHR does not support PKCE with S256, which this app requires for safety.",
            todo="Ask the EHR's administrator to enable PKCE (S256) for SMART apps.",
        )
    auth, token = endpoints["authorization_endpoint"], endpoints["token_endpoint"]
    return SmartConfiguration(base, auth, token)


def client_id(settings: Settings) -> str:
    return settings.smart_client_id or DEV_CLIENT_ID


def redirect_url(settings: Settings) -> str:
    return settings.smart_redirect_url or settings.public_base_url.rstrip("/") + "/smart/callback"


def oauth_client(settings: Settings, scope: str | None = None) -> Any:
    """authlib's async OAuth 2 client for this app: PKCE S256; a confidential client
    (client_secret_basic) when a secret is configured, a public client otherwise."""
    secret = settings.smart_client_secret or None
    return AsyncOAuth2Client(
        client_id=client_id(settings),
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=scope,
        redirect_uri=redirect_url(settings),
        code_challenge_method="S256",
        timeout=settings.fhir_timeout_seconds,
        follow_redirects=False,
    )


def new_code_verifier() -> str:
    from authlib.common.security import generate_token

    return str(generate_token(64))  # RFC 7636: 43-128 unreserved characters


def oauth_errors() -> tuple[type[Exception], ...]:
    """What authlib raises for an OAuth error answer, a state mismatch or a missing code."""
    from authlib.integrations.base_client import OAuthError
    from authlib.oauth2.rfc6749.errors import OAuth2Error

    return (OAuthError, OAuth2Error)
