"""HTTP endpoints of the CDS Hooks 2.0 service: discovery, the services, feedback."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ldn_derm.web.cds.models import FeedbackItem, FeedbackRequest, HookRequest
from ldn_derm.web.cds.prefetch import PatientMismatchError, PrefetchMissingError, gather
from ldn_derm.web.cds.services import services
from ldn_derm.web.cds.trust import Caller, UntrustedError
from ldn_derm.web.problems import problem

log = logging.getLogger("ldn_derm.web.cds")
ModelT = TypeVar("ModelT", bound="BaseModel")

router = APIRouter(tags=["CDS Hooks"])

_JSON = "application/json"

HOOK_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["hook", "hookInstance", "context"],
    "properties": {
        "hook": {"type": "string", "example": "order-sign"},
        "hookInstance": {"type": "string", "format": "uuid"},
        "fhirServer": {"type": "string", "format": "uri"},
        "fhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
                "subject": {"type": "string"},
                "patient": {"type": "string"},
            },
        },
        "context": {
            "type": "object",
            "properties": {
                "userId": {"type": "string"},
                "patientId": {"type": "string"},
                "encounterId": {"type": "string"},
                "selections": {"type": "array", "items": {"type": "string"}},
                "draftOrders": {"type": "object"},
            },
        },
        "prefetch": {
            "type": "object",
            "additionalProperties": {"type": ["object", "null"]},
        },
    },
}

FEEDBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["feedback"],
    "properties": {
        "feedback": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["card", "outcome", "outcomeTimestamp"],
                "properties": {
                    "card": {"type": "string"},
                    "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
                    "acceptedSuggestions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {"id": {"type": "string"}},
                        },
                    },
                    "overrideReason": {
                        "type": "object",
                        "properties": {
                            "reason": {"type": "object"},
                            "userComment": {"type": "string"},
                        },
                    },
                    "outcomeTimestamp": {"type": "string", "format": "date-time"},
                },
            },
        }
    },
}


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=_JSON)


def _audiences(request: Request, *extra_paths: str) -> list[str]:
    """The URL being called, under the configured public base URL (and its trailing-slash twin)."""
    base = request.app.state.settings.public_base_url.rstrip("/")
    # scope["path"], not request.url.path: building the full URL object costs ~10 µs a call,
    # and the CDS paths (our own service ids) need none of its escaping.
    paths = [request.scope["path"], *extra_paths]
    out: list[str] = []
    for path in paths:
        url = base + path
        out += [url, url.rstrip("/") if url.endswith("/") else url + "/"]
    return out


def authenticate(request: Request, *extra_paths: str) -> Caller | None:
    """The verified caller (None when verification is off: dev on loopback), or UntrustedError."""
    verifier = request.app.state.cds_verifier
    if verifier is None:
        return None
    return verifier.verify(  # type: ignore[no-any-return]
        request.headers.get("authorization"), _audiences(request, *extra_paths)
    )


def _unauthorized(exc: UntrustedError) -> Response:
    log.info("CDS call refused: %s", exc)  # the reason only; never the token
    return problem(
        401, "unauthorized", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


@router.get(
    "/cds-services",
    summary="CDS Hooks discovery",
    responses={200: {"description": "The services this server offers"}, 401: {}},
)
def discovery(request: Request) -> Response:
    try:
        authenticate(request)
    except UntrustedError as exc:
        return _unauthorized(exc)
    return _json({"services": [s.discovery() for s in services().values()]})


async def _read_json_object(request: Request) -> dict[str, Any] | Response:
    ctype = request.headers.get("content-type", "")
    if ctype and "json" not in ctype.lower():
        return problem(415, detail="CDS Hooks requests are JSON (application/json).")
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return problem(400, detail=f"The body is not valid JSON: {exc}.")
    if not isinstance(body, dict):
        return problem(400, detail="The body must be a JSON object.")
    return body


def _parse(model: type[ModelT], body: dict[str, Any]) -> ModelT | Response:
    """The body as `model`, or a 400 problem naming every wrongly-typed field in plain words."""
    from pydantic import ValidationError

    from ldn_derm.web.cds.models import describe, plain_errors

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = plain_errors(exc)
        return problem(400, detail=describe(errors), errors=errors)


def _check_hook_request(request: HookRequest, hook: str) -> str | None:
    if request.hook != hook:
        return f"This service answers the '{hook}' hook, not {request.hook[:60]!r}."
    if hook in {"order-select", "order-sign"} and request.context.draftOrders is None:
        return "context.draftOrders (a FHIR Bundle of the draft orders) is required for this hook."
    return None


@router.post(
    "/cds-services/{service_id}",
    summary="Call a CDS service",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {_JSON: {"schema": HOOK_REQUEST_SCHEMA}},
        }
    },
    responses={
        200: {"description": "Cards (possibly none)"},
        401: {},
        404: {},
        400: {
            "description": "Malformed request, or a prefetched Patient that is not "
            "context.patientId"
        },
        412: {"description": "Required FHIR data was neither prefetched nor retrievable"},
    },
)
async def call_service(service_id: str, request: Request) -> Response:
    try:
        caller = authenticate(request)
    except UntrustedError as exc:
        return _unauthorized(exc)
    service = services().get(service_id)
    if service is None:
        return problem(404, detail=f"There is no CDS service '{service_id}' here.")
    body = await _read_json_object(request)
    if isinstance(body, Response):
        return body
    parsed = _parse(HookRequest, body)
    if isinstance(parsed, Response):
        return parsed
    error = _check_hook_request(parsed, service.hook)
    if error:
        return problem(400, detail=error)

    from ldn_derm.web.cds import cards

    if not cards.needs_data(service, body):
        return _json({"cards": []})  # e.g. no naltrexone among the draft orders
    settings = request.app.state.settings
    verified = request.app.state.cds_verifier is not None
    # without JWT checks (--dev on loopback) only servers some fhir_servers list names
    allowed = (
        settings.fhir_servers_for(caller.issuer if caller else None)
        if verified
        else settings.listed_fhir_servers
    )
    partial: set[str] = set()
    try:
        resources = await gather(
            service,
            body,
            settings.fhir_timeout_seconds,
            listed_only=not verified,
            allowed_servers=allowed,
            # CDS Hooks: https for production data; an http base must be listed explicitly
            https_only=verified and not allowed,
            partial=partial,
        )
    except PrefetchMissingError as exc:
        return problem(
            412,
            detail=(
                "Required FHIR data is missing from the prefetch and no usable fhirServer "
                f"with fhirAuthorization was given: {', '.join(exc.keys)}."
            ),
            missing=exc.keys,
        )
    except PatientMismatchError as exc:
        # A prefetched Patient that is not context.patientId is the client's error (400): the
        # spec keeps 412 for data the service could not obtain, and a retry with the same
        # prefetch could not succeed. A fetched one means we could not obtain this patient's
        # data from fhirServer: 412, as the spec says for that case.
        status = 400 if exc.prefetched else 412
        return problem(
            status, detail=str(exc), patient_id=exc.found, context_patient_id=exc.expected
        )
    # the rules are CPU work: off the event loop, so one call never stalls the others
    answer = await run_in_threadpool(
        cards.advise, service, body, resources, settings, partial=partial
    )
    return _json(answer)


@router.post(
    "/cds-services/{service_id}/feedback",
    summary="Feedback on cards (accepted / overridden)",
    openapi_extra={
        "requestBody": {"required": True, "content": {_JSON: {"schema": FEEDBACK_SCHEMA}}}
    },
    responses={200: {"description": "Stored"}, 401: {}, 404: {}},
)
async def feedback(service_id: str, request: Request) -> Response:
    try:
        caller = authenticate(request, f"/cds-services/{service_id}")
    except UntrustedError as exc:
        return _unauthorized(exc)
    if service_id not in services():
        return problem(404, detail=f"There is no CDS service '{service_id}' here.")
    body = await _read_json_object(request)
    if isinstance(body, Response):
        return body
    parsed = _parse(FeedbackRequest, body)
    if isinstance(parsed, Response):
        return parsed
    items = [_feedback_row(item) for item in parsed.feedback]
    from starlette.concurrency import run_in_threadpool

    from ldn_derm.web.cds.store import save_feedback

    stored = await run_in_threadpool(
        save_feedback,
        request.app.state.engine,
        service_id,
        items,
        caller.issuer if caller else None,
    )
    return _json({"stored": stored})


def _feedback_row(item: FeedbackItem) -> dict[str, Any]:
    """A checked feedback entry as the store reads it (outcomeTimestamp a UTC datetime)."""
    row = item.model_dump(exclude_none=True)
    row["outcomeTimestamp"] = item.timestamp
    return row
