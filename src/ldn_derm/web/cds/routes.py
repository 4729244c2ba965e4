"""HTTP endpoints of the CDS Hooks 2.0 service: discovery, the services, feedback."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ldn_derm.web.cds.prefetch import PatientMismatchError, PrefetchMissingError, gather
from ldn_derm.web.cds.services import services
from ldn_derm.web.cds.trust import Caller, UntrustedError
from ldn_derm.web.problems import problem

log = logging.getLogger("ldn_derm.web.cds")

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


def _check_hook_request(body: dict[str, Any], hook: str) -> str | None:
    if body.get("hook") != hook:
        return f"This service answers the '{hook}' hook, not {body.get('hook')!r}."
    if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"]:
        return "hookInstance (a UUID string) is required."
    context = body.get("context")
    if not isinstance(context, dict):
        return "context (an object) is required."
    if hook in {"order-select", "order-sign"}:
        draft = context.get("draftOrders")
        if not isinstance(draft, dict) or draft.get("resourceType") != "Bundle":
            return "context.draftOrders must be a FHIR Bundle for this hook."
    if "prefetch" in body and not isinstance(body["prefetch"], dict | None):
        return "prefetch must be an object."
    server = body.get("fhirServer")
    if body.get("fhirAuthorization") is not None and not isinstance(server, str):
        return "fhirServer is required when fhirAuthorization is given."
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
    error = _check_hook_request(body, service.hook)
    if error:
        return problem(400, detail=error)

    from ldn_derm.web.cds import cards

    if not cards.needs_data(service, body):
        return _json({"cards": []})  # e.g. no naltrexone among the draft orders
    settings = request.app.state.settings
    verified = request.app.state.cds_verifier is not None
    allowed = settings.fhir_servers_for(caller.issuer if caller else None)
    try:
        resources = await gather(
            service,
            body,
            settings.fhir_timeout_seconds,
            # without JWT checks (--dev on loopback) fhirServer may only name this machine
            loopback_only=not verified,
            allowed_servers=allowed,
            # CDS Hooks: https for production data; an http base must be listed explicitly
            https_only=verified and not allowed,
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
    return _json(cards.advise(service, body, resources, settings))


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
    items = body.get("feedback")
    error = _check_feedback(items)
    if error:
        return problem(400, detail=error)
    from starlette.concurrency import run_in_threadpool

    from ldn_derm.web.cds.store import save_feedback

    stored = await run_in_threadpool(
        save_feedback,
        request.app.state.engine,
        service_id,
        items,  # type: ignore[arg-type]
        caller.issuer if caller else None,
    )
    return _json({"stored": stored})


def _check_feedback(items: Any) -> str | None:
    from datetime import datetime

    if not isinstance(items, list):
        return "feedback (an array) is required."
    for i, item in enumerate(items):
        where = f"feedback[{i}]"
        if not isinstance(item, dict):
            return f"{where} must be an object."
        if not isinstance(item.get("card"), str) or not item["card"]:
            return f"{where}.card (the card uuid) is required."
        if item.get("outcome") not in {"accepted", "overridden"}:
            return f"{where}.outcome must be 'accepted' or 'overridden'."
        accepted = item.get("acceptedSuggestions")
        if item["outcome"] == "accepted" and (not isinstance(accepted, list) or not accepted):
            return f"{where}.acceptedSuggestions is required for an accepted outcome."
        if accepted is not None and (
            not isinstance(accepted, list)
            or not all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in accepted)
        ):
            return f"{where}.acceptedSuggestions must be a list of {{'id': uuid}}."
        reason = item.get("overrideReason")
        if reason is not None and not isinstance(reason, dict):
            return f"{where}.overrideReason must be an object."
        if isinstance(reason, dict):
            if reason.get("reason") is not None and not isinstance(reason["reason"], dict):
                return f"{where}.overrideReason.reason must be a Coding object."
            comment = reason.get("userComment")
            if comment is not None and not isinstance(comment, str):
                return f"{where}.overrideReason.userComment must be a string."
        stamp = item.get("outcomeTimestamp")
        try:
            parsed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            return f"{where}.outcomeTimestamp must be an RFC 3339 date-time (2026-11-26T10:05:31Z)."
        if parsed.tzinfo is None:
            return f"{where}.outcomeTimestamp needs a time zone (UTC, 'Z')."
        item["outcomeTimestamp"] = parsed
    return None
