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


def problem_for_error(exc: Exception) -> tuple[int, str, str]:
    """(status, slug, detail) for an `LdnError`: the same answer for the API and the pages."""
    from ldn_derm.errors import (
        BlockedError,
        InputError,
        KnowledgeError,
        UnknownConditionError,
    )

    if isinstance(exc, UnknownConditionError):
        return 404, "unknown-condition", str(exc)
    if isinstance(exc, BlockedError):
        return 422, "blocked", str(exc)
    if isinstance(exc, InputError):
        return 422, "invalid-input", str(exc)
    if isinstance(exc, KnowledgeError):
        return (
            500,
            "knowledge-error",
            "The server's knowledge base could not be used; the problem has been logged.",
        )
    return 422, "invalid-input", str(exc)


def problem_dict(status: int, slug: str, detail: str | None = None) -> dict[str, Any]:
    """The problem-details members as a dict (what the pages show in their error region)."""
    body: dict[str, Any] = {
        "type": f"/problems#{slug}",
        "title": PROBLEM_TYPES.get(slug, PROBLEM_TYPES["http-error"])[0],
        "status": status,
    }
    if detail:
        body["detail"] = detail
    return body


# ---------------------------------------------------------------- validation messages

_FIELD_LABELS = {
    "target_mg": "Target dose (mg)",
    "start_mg": "Start dose (mg)",
    "step_mg": "Step (mg)",
    "interval_days": "Days between steps",
    "days": "Length (days)",
    "doses_mg": "Daily doses",
    "dose_time": "Clock time of the dose",
    "subjects": "Simulated patients",
    "concentration_mg_per_ml": "Liquid concentration (mg/mL)",
    "override_reason": "Reason for the override",
    "overrides": "Overrides",
    "condition": "Condition",
    "preset": "Published preset",
    "form": "Form",
    "salt": "Doses written as",
    "paper": "Handout paper",
    "time": "Time of day",
    "age": "Age (years)",
    "sex": "Sex",
    "conditions": "Conditions",
    "medications": "Current medicines",
    "birth_date": "Birth date",
    "bundle": "FHIR bundle",
    "profile": "Patient profile",
    "as_of": "As-of date",
    "seed": "Seed",
}


def field_label(loc: tuple[Any, ...] | list[Any]) -> str:
    """A readable name for a pydantic error location: the form's label where there is one."""
    parts = [p for p in loc if p not in {"body", "[key]"}]
    names = [str(p) for p in parts if isinstance(p, str)]
    indexes = [p for p in parts if isinstance(p, int)]
    if not names:
        return "The request"
    if "[key]" in loc and len(names) >= 2:  # a dict key that is not allowed, e.g. overrides
        parent = _FIELD_LABELS.get(names[-2]) or names[-2].replace("_", " ").capitalize()
        return f"'{names[-1]}' in {parent}"
    label = _FIELD_LABELS.get(names[-1]) or names[-1].replace("_", " ").capitalize()
    if indexes:
        label += f" (item {indexes[-1] + 1})"
    return label


def clinician_message(err: dict[str, Any]) -> str:
    """One pydantic error in words a clinician reads, naming the field by its label."""
    label = field_label(err.get("loc", ()))
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    msg = str(err.get("msg", ""))
    if kind == "missing":
        return f"{label} is required."
    if kind == "extra_forbidden":
        return f"{label} is not something this form or API accepts; leave it out."
    if kind in {"literal_error", "enum"}:
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"{label} must be one of: {expected}."
    if kind == "greater_than":
        return f"{label} must be more than {ctx.get('gt')}."
    if kind == "greater_than_equal":
        return f"{label} must be at least {ctx.get('ge')}."
    if kind == "less_than":
        return f"{label} must be less than {ctx.get('lt')}."
    if kind == "less_than_equal":
        return f"{label} must be at most {ctx.get('le')}."
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{label} must be a whole number."
    if kind in {"float_parsing", "float_type", "decimal_parsing"}:
        return f"{label} must be a number."
    if kind in {"string_too_long", "too_long"}:
        return f"{label} is too long (at most {ctx.get('max_length')})."
    if kind in {"string_too_short", "too_short"}:
        return f"{label} is empty or too short."
    if kind == "string_pattern_mismatch" and "time" in label.lower():
        return f"{label} must be a time as HH:MM (for example 22:00)."
    if kind.startswith("date"):
        return f"{label} must be a date as YYYY-MM-DD."
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"{label} must be an object with named fields."
    if kind == "list_type":
        return f"{label} must be a list."
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        where = f"{label}: " if label != "The request" else ""
        return where + text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    return f"{label}: {msg}"


def clinician_messages(errors: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(clinician_message(e) for e in errors))
