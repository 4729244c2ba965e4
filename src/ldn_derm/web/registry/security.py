"""Sessions, CSRF and error mapping for the registry's pages and API.

- Session: a random token in the `ldn_registry_session` cookie (HttpOnly, SameSite=Lax, Secure
  unless the server runs in dev mode); the server-side row is in `web_sessions`.
- CSRF (synchronizer token): every session has a random CSRF token; forms carry it in a hidden
  `csrf_token` field, API writes in an `X-CSRF-Token` header. The login form, before any session
  exists, carries a signed, time-limited token that must equal the one in a login cookie.
- Errors: `RegistryRoute` turns any LdnError into JSON (API) or a page (HTML), adds
  `Cache-Control: no-store` (patient data must not sit in shared caches).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, SignatureExpired
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from ldn_derm.errors import InputError, LdnError
from ldn_derm.registry import audit, auth
from ldn_derm.registry.audit import Actor
from ldn_derm.registry.auth import SessionInfo
from ldn_derm.registry.errors import (
    AuthenticationError,
    ConflictError,
    CsrfError,
    DatabaseNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RegistryInputError,
)
from ldn_derm.registry.vocab import Role
from ldn_derm.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, slug_for_status
from ldn_derm.web.registry.state import RegistryWeb, client_ip, registry_web

SESSION_COOKIE = "ldn_registry_session"
LOGIN_CSRF_COOKIE = "ldn_registry_login"
CSRF_HEADER = "X-CSRF-Token"
API_PREFIX = "/api/v1/registry"
PAGE_PREFIX = "/registry"
LOGIN_TOKEN_MAX_AGE_S = 3600
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# The app's SecurityHeaders middleware adds CSP, nosniff, referrer and frame headers; patient
# data additionally must never be kept by a browser or proxy cache.
SECURITY_HEADERS = {"Cache-Control": "no-store"}


class NotLoggedIn(AuthenticationError):  # noqa: N818 - reads better at the raise sites
    """No valid session (pages redirect to the login page, the API answers 401)."""


# ------------------------------------------------------------------ sessions


def current_session(request: Request) -> SessionInfo | None:
    cached = getattr(request.state, "registry_session", None)
    if cached is not None:
        return cached if isinstance(cached, SessionInfo) else None
    web = registry_web(request)
    info = auth.load_session(web.db, request.cookies.get(SESSION_COOKIE))
    request.state.registry_session = info if info is not None else False
    return info


def actor_of(request: Request, info: SessionInfo) -> Actor:
    return info.user.actor(client_ip(request), request.headers.get("user-agent"))


def require_session(request: Request) -> SessionInfo:
    """Pages (GET): a logged-in user, or NotLoggedIn (-> redirect to the login page)."""
    info = current_session(request)
    if info is None:
        raise NotLoggedIn("please log in")
    return info


def require_api_session(request: Request) -> SessionInfo:
    """API: a logged-in user (else 401); writes must carry the session's X-CSRF-Token header."""
    info = require_session(request)
    if request.method not in SAFE_METHODS:
        check_csrf(request, info, request.headers.get(CSRF_HEADER))
    return info


async def require_form(request: Request) -> tuple[SessionInfo, FormData]:
    """Page POSTs: a logged-in user and the submitted form, whose csrf_token must match."""
    info = await run_in_threadpool(require_session, request)
    form = await request.form()
    token = form.get("csrf_token")
    await run_in_threadpool(check_csrf, request, info, token if isinstance(token, str) else None)
    return info, form


def audit_refusal(request: Request, info: SessionInfo | None, action: str, reason: str) -> None:
    """An audit row for a request refused before it reached the registry's use cases (role,
    CSRF), in a transaction of its own. The path holds registry ids only, never names."""
    web = registry_web(request)
    with web.db.transaction() as s:
        audit.record(
            s,
            actor_of(request, info) if info else None,
            action,
            outcome="denied",
            object_type="request",
            detail={"reason": reason, "method": request.method, "path": request.url.path[:200]},
            ip=client_ip(request),
        )


def require_role(request: Request, info: SessionInfo, *roles: Role) -> None:
    if info.user.role not in roles:
        audit_refusal(request, info, "access", "role")
        raise PermissionDeniedError(
            f"the {info.user.role.value} role may not use this page "
            f"(needs {' or '.join(r.value for r in roles)})"
        )


def check_csrf(request: Request, info: SessionInfo, given: str | None) -> None:
    if not given or not secrets.compare_digest(given, info.csrf_token):
        audit_refusal(request, info, "csrf", "missing or wrong CSRF token")
        raise CsrfError("the form or request is missing its security token; reload the page")


def set_session_cookie(response: Response, web: RegistryWeb, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(auth.SESSION_MAX.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies,
        path="/",
    )


def clear_session_cookie(response: Response, web: RegistryWeb) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=web.secure_cookies
    )


def new_login_token(web: RegistryWeb) -> str:
    return web.signer.dumps(secrets.token_urlsafe(16), salt="login-csrf")


def check_login_token(request: Request, web: RegistryWeb, form_token: str | None) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not form_token or not cookie or not secrets.compare_digest(form_token, cookie):
        audit_refusal(request, None, "csrf", "login form token missing or not matching")
        raise CsrfError("the login form has expired; please try again")
    try:
        web.signer.loads(form_token, salt="login-csrf", max_age=LOGIN_TOKEN_MAX_AGE_S)
    except (BadSignature, SignatureExpired):
        audit_refusal(request, None, "csrf", "login form token expired or forged")
        raise CsrfError("the login form has expired; please try again") from None


def set_login_cookie(response: Response, web: RegistryWeb, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_TOKEN_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies,
        path=PAGE_PREFIX,
    )


# ------------------------------------------------------------------ errors


def status_of(exc: LdnError) -> int:
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, PermissionDeniedError | CsrfError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, RateLimitedError):
        return 429
    if isinstance(exc, DatabaseNotReadyError):
        return 503
    if isinstance(exc, InputError):
        return 422
    return 400


def problem_json(exc: LdnError) -> JSONResponse:
    """RFC 9457 problem details like the rest of /api (`type`, `title`, `status`, `detail`),
    plus the registry's own `error`, `message` and `fields` members."""
    status = status_of(exc)
    slug = "invalid-input" if status == 422 else slug_for_status(status)
    body: dict[str, Any] = {
        "type": f"/problems#{slug}",
        "title": PROBLEM_TYPES.get(slug, PROBLEM_TYPES["http-error"])[0],
        "status": status,
        "detail": str(exc),
        "error": type(exc).__name__,
        "message": str(exc),
    }
    if isinstance(exc, RegistryInputError) and exc.fields:
        body["fields"] = exc.fields
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, AuthenticationError):
        response.headers["WWW-Authenticate"] = 'Cookie realm="ldn-registry"'
    return response


def problem_page(request: Request, exc: LdnError) -> Response:
    if isinstance(exc, NotLoggedIn):
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"{PAGE_PREFIX}/login?next={target}", status_code=303)
    web = registry_web(request)
    info = current_session(request) if not isinstance(exc, DatabaseNotReadyError) else None
    response = web.templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": info.user if info else None,
            "csrf": info.csrf_token if info else "",
            "message": str(exc),
            "status": status_of(exc),
        },
        status_code=status_of(exc),
    )
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


class RegistryRoute(APIRoute):
    """Maps LdnError to JSON or an error page, and adds security headers to every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except LdnError as exc:
                if request.url.path.startswith(API_PREFIX):
                    response = problem_json(exc)
                else:
                    response = problem_page(request, exc)
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            return response

        return route
