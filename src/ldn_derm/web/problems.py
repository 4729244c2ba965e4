"""RFC 9457 problem details: every error the web layer returns is one of these JSON objects."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"

# slug -> (title, explanation shown on /problems); the `type` member links to that page
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "invalid-input": (
        "The request could not be used",
        "A value in the request is missing, malformed or clinically implausible. "
        "The detail says which one and why.",
    ),
    "validation-error": (
        "The request does not match the schema",
        "The JSON body or a parameter does not match the OpenAPI schema; `errors` lists "
        "each field.",
    ),
    "unknown-condition": (
        "Unknown condition",
        "The condition name or code matches nothing in the knowledge base.",
    ),
    "blocked": (
        "Refused for a clinical reason",
        "The action was refused because of a contraindication; the detail says which.",
    ),
    "forbidden": (
        "Forbidden",
        "You are logged in, but your role may not do this, or the request lacks its "
        "CSRF token (X-CSRF-Token).",
    ),
    "not-found": ("Not found", "There is nothing at this address."),
    "conflict": (
        "Conflict",
        "The record was changed by someone else, or the name is already taken; reload and retry.",
    ),
    "too-many-requests": (
        "Too many requests",
        "Too many failed attempts; wait for the time given in Retry-After.",
    ),
    "method-not-allowed": ("Method not allowed", "This address does not accept that method."),
    "request-timeout": (
        "Request body too slow",
        "The request body did not arrive in time (settings.body_timeout_seconds); the "
        "connection is closed.",
    ),
    "payload-too-large": (
        "Request body too large",
        "The body is larger than this server accepts (settings.max_body_bytes).",
    ),
    "headers-too-large": (
        "Request headers too large",
        "The request's headers (an Authorization token, cookies...) are larger than this "
        "server accepts.",
    ),
    "unsupported-media-type": (
        "Unsupported media type",
        "Send JSON (application/json) or, for uploads, multipart/form-data.",
    ),
    "unauthorized": (
        "Unauthorized",
        "CDS Hooks calls must carry a valid JWT signed by a trusted EHR (Authorization: Bearer).",
    ),
    "precondition-failed": (
        "Required FHIR data missing",
        "The CDS service needs data that was neither prefetched nor retrievable from the "
        "FHIR server (CDS Hooks 2.0: 412 Precondition Failed).",
    ),
    "not-available": (
        "Feature not available",
        "This part of the program is not installed or not ready on this server.",
    ),
    "knowledge-error": (
        "Knowledge base problem",
        "The server's knowledge base is inconsistent; this is a server fault to report.",
    ),
    "internal-error": (
        "Internal error",
        "Something went wrong on the server. It has been logged; please report it.",
    ),
    "http-error": ("HTTP error", "A generic HTTP error."),
}

_STATUS_SLUG = {
    400: "invalid-input",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    408: "request-timeout",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    431: "headers-too-large",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "not-available",
}


def slug_for_status(status: int) -> str:
    return _STATUS_SLUG.get(status, "http-error")


def problem(
    status: int,
    slug: str | None = None,
    detail: str | None = None,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response; `type` is a relative URI to the /problems page."""
    slug = slug or slug_for_status(status)
    body: dict[str, Any] = {
        "type": f"/problems#{slug}",
        "title": title or PROBLEM_TYPES.get(slug, PROBLEM_TYPES["http-error"])[0],
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )
