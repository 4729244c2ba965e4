"""The OpenAPI description completed with the problem responses the routes really give.

FastAPI documents what a route declares (and a 422 in its own error shape). Every refusal here
is an RFC 9457 problem (`application/problem+json`, schema `Problem`) made by shared machinery
(the size limits, CDS authentication, the validation handler, the registry's sessions), so the
statuses each area can answer are added here, in one place, for the REST API and the CDS
service: clients and schemathesis's conformance checks read the same list.
"""

from __future__ import annotations

from typing import Any

from ldn_derm.web.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A link to /problems#<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Each field that could not be used, and why",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "The request could not be used (malformed JSON, a wrongly-typed field: `errors` names "
    "each one, or a request that contradicts itself)",
    401: "Not authenticated (CDS Hooks: no valid JWT from a trusted EHR; registry: no session)",
    403: "Authenticated, but the role may not do this, or the CSRF token is missing",
    404: "Nothing at this address (an unknown service, condition, reference or record)",
    408: "The request body did not arrive in time",
    409: "The record changed meanwhile, or the name is taken",
    412: "Required FHIR data was neither prefetched nor retrievable from fhirServer",
    413: "The request body is larger than the server accepts",
    415: "The body is not JSON",
    422: "The body or a parameter does not match the schema, or a clinical refusal",
    429: "Too many attempts; see Retry-After",
    431: "The request headers are larger than the server accepts",
    503: "This feature is not available on this server",
}

_BODY = {"post", "put", "patch"}


def statuses_for(path: str, method: str) -> set[int]:
    """The problem statuses an operation can answer."""
    out = {431}
    if method in _BODY:
        out |= {408, 413}
    if path.startswith("/cds-services"):
        out |= {401}
        if path != "/cds-services":
            out |= {400, 404, 415}
        if path == "/cds-services/{service_id}":
            out |= {412}
    elif path.startswith("/api/v1/registry"):
        out |= {400, 401, 403, 404, 409, 422, 429}
    elif path.startswith("/api/v1"):
        out |= {400, 404, 422, 503}
    return out


def complete_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Add (or reshape as problem+json) the problem responses of the API and CDS routes."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(("/api/v1", "/cds-services")):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            wanted = statuses_for(path, method) | {
                int(code) for code in responses if code.isdigit() and int(code) >= 400
            }
            for status in sorted(wanted):
                current = responses.get(str(status)) or {}
                description = current.get("description")
                if not description or description == "Validation Error":
                    description = DESCRIPTIONS.get(status, "Problem")
                responses[str(status)] = {"description": description, "content": problem_content}
    # FastAPI's own 422 shapes are never sent (the handler answers problem details)
    import json

    schemas = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and f'"#/components/schemas/{name}"' not in json.dumps(
            {k: v for k, v in schema.items() if k != "components"}
        ):
            del schemas[name]
    return schema
