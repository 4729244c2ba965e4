"""Routes of the SMART launch: /smart/launch, /smart/callback and the launched patient's pages.

Each launch gets its own id in the URL (`/smart/p/{launch_id}`), so two charts opened in two
tabs never mix their patients; its tokens stay in the server-side session.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from ldn_derm.errors import LdnError

if TYPE_CHECKING:
    from ldn_derm.assess import Assessment
    from ldn_derm.patient import PatientProfile
from ldn_derm.web.settings import Settings
from ldn_derm.web.smart import store
from ldn_derm.web.smart.errors import (
    ConsentDeniedError,
    EhrUnavailableError,
    LaunchExpiredError,
    NotConfiguredError,
    SessionExpiredError,
    SmartLaunchError,
    UnknownIssuerError,
)
from ldn_derm.web.smart.oauth import (
    discover,
    granted,
    new_code_verifier,
    oauth_client,
    oauth_errors,
    requested_scopes,
)

log = logging.getLogger("ldn_derm.web.smart")
router = APIRouter(include_in_schema=False)

PENDING_SECONDS = 600  # from /smart/launch to /smart/callback
MAX_LAUNCHES = 5  # patients open at once in one browser session
TOKEN_MARGIN_SECONDS = 30  # an access token this close to expiry counts as expired


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _engine(request: Request) -> Any:
    return request.app.state.engine


def _error_page(request: Request, exc: LdnError) -> Response:
    from ldn_derm.web.pages import render

    if isinstance(exc, SmartLaunchError):
        title, reason, todo, status = exc.title, exc.reason, exc.todo, exc.status
    else:
        title, reason, todo, status = (
            "The request could not be completed",
            str(exc),
            "Correct the input and try again.",
            422,
        )
    response = render(
        request, "smart_error.html", status=status, title=title, reason=reason, todo=todo
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _guarded(request: Request, handler: Callable[[], Awaitable[Response]]) -> Response:
    try:
        response = await handler()
    except LdnError as exc:
        log.info("SMART launch refused: %s", type(exc).__name__)  # never the tokens or record
        return _error_page(request, exc)
    response.headers["Cache-Control"] = "no-store"  # patient data: never kept in a cache
    return response


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


def _set_cookie(response: Response, settings: Settings, session_id: str) -> None:
    response.set_cookie(
        store.COOKIE,
        session_id,
        max_age=settings.smart_session_seconds,
        path="/smart",
        httponly=True,
        secure=_secure(settings),
        samesite="lax",  # sent on the EHR's top-level redirect back to /smart/callback
    )


# ------------------------------------------------------------------ launch


@router.get("/smart/launch")
async def smart_launch(request: Request) -> Response:
    return await _guarded(request, lambda: _launch(request))


async def _launch(request: Request) -> Response:
    settings = _settings(request)
    if not settings.smart_enabled:
        raise NotConfiguredError("No SMART client id is configured on this server.")
    iss = (request.query_params.get("iss") or "").strip()
    launch = (request.query_params.get("launch") or "").strip()
    if not iss:
        raise SmartLaunchError(
            "The launch link did not say which EHR it came from (no 'iss' parameter)."
        )
    if len(iss) > 2000 or len(launch) > 4000 or not settings.smart_issuer_allowed(iss):
        raise UnknownIssuerError(
            f"{iss[:200]} is not on this server's list of EHRs allowed to open the app."
        )
    config = await discover(iss, settings.fhir_timeout_seconds)
    scope = requested_scopes(ehr_launch=bool(launch), write_drafts=settings.smart_write_drafts)
    verifier = new_code_verifier()
    extra: dict[str, str] = {"aud": iss}
    if launch:
        extra["launch"] = launch
    client = oauth_client(settings, scope)
    async with client:
        url, state = client.create_authorization_url(
            config.authorization_endpoint, code_verifier=verifier, **extra
        )
    pending = {
        "fhir": config.issuer,
        "token_endpoint": config.token_endpoint,
        "verifier": verifier,
        "scope": scope,
        "at": int(time.time()),
    }
    engine = _engine(request)
    session_id = request.cookies.get(store.COOKIE)

    def add_pending(data: dict[str, Any]) -> None:
        waiting = data.setdefault("pending", {})
        waiting[state] = pending
        while len(waiting) > store.MAX_PENDING:
            waiting.pop(min(waiting, key=lambda s: waiting[s]["at"]))

    added = await run_in_threadpool(
        store.update_session, engine, session_id, add_pending, settings.smart_session_seconds
    )
    if not added or session_id is None:
        session_id = await run_in_threadpool(
            store.new_session,
            engine,
            {"pending": {state: pending}, "launches": {}},
            settings.smart_session_seconds,
        )
    response = RedirectResponse(url, status_code=302)
    _set_cookie(response, settings, session_id)
    return response


# ------------------------------------------------------------------ callback


@router.get("/smart/callback")
async def smart_callback(request: Request) -> Response:
    return await _guarded(request, lambda: _callback(request))


async def _callback(request: Request) -> Response:
    import httpx

    settings = _settings(request)
    engine = _engine(request)
    params = request.query_params
    state = params.get("state") or ""
    session_id = request.cookies.get(store.COOKIE)
    pending = await run_in_threadpool(store.take_pending, engine, session_id, state)
    if pending is None:
        raise LaunchExpiredError(
            "The answer from the EHR does not belong to a launch started in this browser "
            "(its 'state' is unknown or was already used), so it was not accepted."
        )
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        raise LaunchExpiredError(
            f"The launch was started more than {PENDING_SECONDS // 60} minutes ago."
        )
    error = params.get("error")
    if error:
        description = (params.get("error_description") or "")[:300]
        if error in {"access_denied", "invalid_scope", "consent_required"}:
            raise ConsentDeniedError(
                f"The EHR did not grant the app access ({error}"
                + (f": {description}" if description else "")
                + ")."
            )
        raise SmartLaunchError(
            f"The EHR refused the launch ({error}" + (f": {description}" if description else "")
            + ")."
        )  # fmt: skip
    if not params.get("code"):  # never let the OAuth library guess another grant type
        raise SmartLaunchError(
            "The EHR's answer carries no authorization code, so no access was requested."
        )
    client = oauth_client(settings, str(pending["scope"]))
    try:
        async with client:
            token = await client.fetch_token(
                str(pending["token_endpoint"]),
                authorization_response=str(request.url),
                state=state,
                code_verifier=str(pending["verifier"]),
            )
    except oauth_errors() as exc:
        raise SmartLaunchError(
            "The EHR refused to give the app access for this launch "
            f"({getattr(exc, 'error', None) or type(exc).__name__}); an authorization code "
            "works once and only for a few minutes."
        ) from None
    except (httpx.HTTPError, OSError):
        raise EhrUnavailableError("The EHR's token service could not be reached.") from None
    except (ValueError, TypeError, KeyError):  # e.g. "expires_in": [1]
        raise SmartLaunchError("The EHR's token answer could not be read.") from None
    access_token, granted = _token_fields(token)
    patient = token.get("patient")
    if not isinstance(patient, str) or not patient:
        raise SmartLaunchError(
            "The EHR did not say which patient is open (no patient in the launch context).",
            todo="Open the app from a patient's chart, or choose a patient when the EHR asks.",
        )
    scope = granted
    app_context = token.get("appContext")
    expires_at = token.get("expires_at")
    launch = {
        "fhir": pending["fhir"],
        "token_endpoint": pending["token_endpoint"],
        "scope": scope,
        "patient": patient,
        "access_token": access_token,
        # a refresh token is kept (and used) only when the EHR granted one
        "refresh_token": token.get("refresh_token") or None,
        "expires_at": int(expires_at) if isinstance(expires_at, int | float) else None,
        "app_context": app_context if isinstance(app_context, str) else None,
        "csrf": secrets.token_urlsafe(24),
        "at": int(time.time()),
    }
    launch_id = secrets.token_urlsafe(12)

    def add_launch(data: dict[str, Any]) -> None:
        launches = data.setdefault("launches", {})
        launches[launch_id] = launch
        while len(launches) > MAX_LAUNCHES:
            launches.pop(min(launches, key=lambda k: launches[k]["at"]))

    if not await run_in_threadpool(store.update_session, engine, session_id, add_launch):
        raise SessionExpiredError("The session ended while the EHR was answering.")
    return RedirectResponse(f"/smart/p/{launch_id}", status_code=303)


# ------------------------------------------------------------------ the launched patient


async def _launch_for(request: Request, launch_id: str) -> dict[str, Any]:
    """The launch with an access token that is still valid (refreshed when a refresh token
    was granted), or SessionExpiredError / LaunchExpiredError."""
    settings = _settings(request)
    engine = _engine(request)
    session_id = request.cookies.get(store.COOKIE)
    data = await run_in_threadpool(store.load_session, engine, session_id)
    if data is None or session_id is None:
        raise SessionExpiredError(
            f"Sessions end {settings.smart_session_seconds // 60} minutes after the app was "
            "opened, and the tokens with them."
        )
    launch = (data.get("launches") or {}).get(launch_id)
    if not isinstance(launch, dict):
        raise LaunchExpiredError("This page belongs to a launch that is no longer open.")
    if time.time() - float(launch.get("at", 0)) > settings.smart_session_seconds:
        # each launch lasts the session lifetime from its own start (the session itself is
        # renewed by later launches)
        raise SessionExpiredError(
            f"Sessions end {settings.smart_session_seconds // 60} minutes after the app was "
            "opened, and the tokens with them."
        )
    expires_at = launch.get("expires_at")
    if expires_at is not None and time.time() > expires_at - TOKEN_MARGIN_SECONDS:
        if not launch.get("refresh_token"):
            raise SessionExpiredError("The EHR's access token for this launch has expired.")
        renewed = await _refresh(settings, launch)
        launch.update(renewed)

        def keep(data: dict[str, Any]) -> None:
            stored = (data.get("launches") or {}).get(launch_id)
            if isinstance(stored, dict):
                stored.update(renewed)

        await run_in_threadpool(store.update_session, engine, session_id, keep)
    return launch


async def _refresh(settings: Settings, launch: dict[str, Any]) -> dict[str, Any]:
    import httpx

    client = oauth_client(settings, str(launch["scope"]))
    failures: tuple[type[BaseException], ...] = (
        *oauth_errors(),
        httpx.HTTPError,
        OSError,
        ValueError,
        TypeError,
        KeyError,
    )
    try:
        async with client:
            token = await client.refresh_token(
                str(launch["token_endpoint"]), refresh_token=str(launch["refresh_token"])
            )
    except failures:
        raise SessionExpiredError(
            "The EHR's access token for this launch has expired and could not be renewed."
        ) from None
    try:
        access_token, _ = _token_fields({"scope": launch["scope"], **token})
    except SmartLaunchError:
        raise SessionExpiredError(
            "The EHR's access token for this launch has expired and its renewal could not be read."
        ) from None
    expires_at = token.get("expires_at")
    return {
        "access_token": access_token,
        "refresh_token": token.get("refresh_token") or launch["refresh_token"],
        "expires_at": int(expires_at) if isinstance(expires_at, int | float) else None,
        # a refresh answer may leave out the scope: then it is the one granted before
        "scope": str(token.get("scope") or launch["scope"]),
    }


def _token_fields(token: Any) -> tuple[str, str]:
    """(access token, granted scope) of a token answer, which SMART App Launch requires to hold
    both, with token_type Bearer; anything else is refused, never guessed (a missing scope
    would otherwise be taken as everything asked for)."""
    access = token.get("access_token")
    kind = token.get("token_type")
    scope = token.get("scope")
    if not isinstance(access, str) or not access:
        raise SmartLaunchError("The EHR's token answer has no access token.")
    if not isinstance(kind, str) or kind.lower() != "bearer":
        raise SmartLaunchError("The EHR's token answer is not a Bearer token.")
    if not isinstance(scope, str) or not scope.strip():
        raise SmartLaunchError("The EHR's token answer does not say which access was granted.")
    return access, scope


async def _record(settings: Settings, launch: dict[str, Any]) -> Any:
    from ldn_derm.web.smart.record import read_record

    return await read_record(
        str(launch["fhir"]),
        str(launch["access_token"]),
        str(launch["patient"]),
        str(launch["scope"]),
        settings.fhir_timeout_seconds,
    )


def _assess(record: Any) -> tuple[PatientProfile, Assessment]:
    from ldn_derm.assess import assess as run
    from ldn_derm.patient import profile_from_resources

    profile = profile_from_resources(
        record.resources,
        as_of=date.today(),
        patient_id=str(record.patient.get("id")),
        source="smart-launch",
    )
    return profile, run(profile)


def _assessment(
    record: Any, assessed: tuple[PatientProfile, Assessment] | None = None
) -> dict[str, Any]:
    from ldn_derm.web import presenters

    profile, assessment = assessed or _assess(record)
    return presenters.assessment_view(presenters.assessment_dict(assessment), profile)


def _prescribe_context(
    launch_id: str,
    launch: dict[str, Any],
    record: Any,
    assessed: tuple[PatientProfile, Assessment] | None = None,
) -> dict[str, Any]:
    """Everything the prescribe page needs besides the answer: the launch context, what the
    form says about the patient (the same contraindication notes as the carried-record form),
    the form's address and security token, and the choices it offers."""
    from ldn_derm.web import presenters
    from ldn_derm.web.pages import _prescribe_choices

    return {
        **_context(launch_id, launch, record),
        **presenters.prescribe_notes(*(assessed or _assess(record))),
        "form_action": f"/smart/p/{quote(launch_id)}/ui/prescribe",
        "csrf": launch["csrf"],
        **_prescribe_choices(),
    }


def _context(launch_id: str, launch: dict[str, Any], record: Any) -> dict[str, Any]:
    from ldn_derm.web.smart.banner import patient_banner

    notes = []
    if record.not_read:
        notes.append(
            f"The EHR did not grant access to {', '.join(record.not_read)}: they were not read, "
            "so findings that depend on them may be missing."
        )
    if record.incomplete:
        notes.append(
            f"The record holds more {', '.join(record.incomplete)} than this app reads at once: "
            "only the first pages were assessed. Review the rest in the EHR."
        )
    return {
        "banner": patient_banner(record.patient, date.today()),
        "launch_id": launch_id,
        "notes": notes,
        "can_write": granted(str(launch["scope"]), "MedicationRequest", "c"),
    }


@router.get("/smart/p/{launch_id}")
async def smart_patient(request: Request, launch_id: str) -> Response:
    async def handler() -> Response:
        from ldn_derm.web.pages import render

        settings = _settings(request)
        launch = await _launch_for(request, launch_id)
        record = await _record(settings, launch)
        result = _assessment(record)
        context = _context(launch_id, launch, record)
        return render(
            request, "smart_patient.html", result=result, error=None, active="assess", **context
        )

    return await _guarded(request, handler)


def _condition_from(launch: dict[str, Any], result: dict[str, Any] | None) -> str:
    """The condition to preselect: the CDS card's appContext (`{"condition": id}`), else the
    patient's first condition with evidence."""
    import orjson

    from ldn_derm.knowledge import get_knowledge

    raw = launch.get("app_context")
    if raw:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict) and value.get("condition") in get_knowledge().conditions:
            return str(value["condition"])
    if result and result.get("evidence"):
        return str(result["evidence"][0]["id"])
    return ""


def _bundle(record: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in record.resources],
    }


@router.get("/smart/p/{launch_id}/prescribe")
async def smart_prescribe_page(request: Request, launch_id: str) -> Response:
    async def handler() -> Response:
        from ldn_derm.web.pages import render

        settings = _settings(request)
        launch = await _launch_for(request, launch_id)
        record = await _record(settings, launch)
        assessed = _assess(record)
        values = {"condition": _condition_from(launch, _assessment(record, assessed))}
        return render(
            request,
            "prescribe.html",
            values=values,
            result=None,
            error=None,
            **_prescribe_context(launch_id, launch, record, assessed),
        )

    return await _guarded(request, handler)


async def _prescription(
    request: Request, launch_id: str
) -> tuple[dict[str, Any], Any, dict[str, Any], dict[str, Any] | None, str | None]:
    """(launch, record, form values, prescription or None, error or None) from the posted form
    with the launched patient's record attached (the same block-or-override as elsewhere)."""
    from ldn_derm.web import actions, presenters
    from ldn_derm.web.pages import _prescribe_input

    settings = _settings(request)
    launch = await _launch_for(request, launch_id)
    body, error, values = await _prescribe_input(request)
    record = await _record(settings, launch)
    result = None
    if body is not None:
        try:
            rx = actions.prescribe(body.model_copy(update={"bundle": _bundle(record)}))
            result = presenters.prescription_dict(rx)
        except LdnError as exc:
            error = str(exc)
    return launch, record, values, result, error


@router.post("/smart/p/{launch_id}/ui/prescribe")
async def smart_prescribe(request: Request, launch_id: str) -> Response:
    async def handler() -> Response:
        from ldn_derm.web.pages import _fragment_or_page

        launch, record, values, result, error = await _prescription(request, launch_id)
        return _fragment_or_page(
            request,
            "_prescription.html",
            "prescribe.html",
            status=200 if error is None else 422,
            values=values,
            result=result,
            error=error,
            **_prescribe_context(launch_id, launch, record),
        )

    return await _guarded(request, handler)


@router.post("/smart/p/{launch_id}/medication-request")
async def smart_save_draft(request: Request, launch_id: str) -> Response:
    """Save the previewed prescription as a draft MedicationRequest in the EHR (only when the
    EHR granted create access to MedicationRequest), and say what happened."""

    async def handler() -> Response:
        from ldn_derm.web.pages import render
        from ldn_derm.web.smart.record import create_resource

        settings = _settings(request)
        form = await request.form()
        launch = await _launch_for(request, launch_id)
        given = form.get("csrf_token")
        if not isinstance(given, str) or not secrets.compare_digest(given, launch["csrf"]):
            raise SmartLaunchError(
                "The form is missing its security token.",
                todo="Go back, preview the prescription again and save it from there.",
                status=403,
            )
        launch, record, values, result, error = await _prescription(request, launch_id)
        context = _prescribe_context(launch_id, launch, record)
        saved: dict[str, Any] | None = None
        if result is not None and not context["can_write"]:
            error = "The EHR did not grant this app permission to create medication requests."
        elif result is not None:
            resource = dict(result["medication_request"])
            resource["status"] = "draft"
            resource["subject"] = {"reference": f"Patient/{launch['patient']}"}
            status, new_id = await create_resource(
                str(launch["fhir"]),
                str(launch["access_token"]),
                resource,
                settings.fhir_timeout_seconds,
            )
            if status in {200, 201}:
                saved = {"ok": True, "text": "Saved in the EHR as a draft MedicationRequest"
                         + (f" (MedicationRequest/{new_id})" if new_id else "")
                         + ". Review and sign it in the EHR."}  # fmt: skip
            else:
                why = f"HTTP {status}" if status else "no answer"
                saved = {"ok": False, "text": f"The EHR did not save the draft ({why}). Nothing "
                         "was saved; download the MedicationRequest or enter the order in the "
                         "EHR by hand."}  # fmt: skip
        return render(
            request,
            "prescribe.html",
            status=200 if error is None else 422,
            values=values,
            result=result,
            error=error,
            saved=saved,
            **context,
        )

    return await _guarded(request, handler)
