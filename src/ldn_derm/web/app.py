"""The FastAPI application factory. Routers for each front door are mounted here.

The app keeps no state between requests beyond what is in the database (CDS feedback, the JWT
replay cache, the registry), so several workers or hosts can serve it behind a load balancer.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response

from ldn_derm import __version__
from ldn_derm.errors import LdnError
from ldn_derm.web.app_paths import STATIC_DIR
from ldn_derm.web.problems import clinician_message, problem, slug_for_status
from ldn_derm.web.settings import Settings, load_settings

log = logging.getLogger("ldn_derm.web")


DESCRIPTION = """Decision support for low-dose naltrexone (LDN) in dermatology.

* **REST API** under `/api/v1`: assess a patient, browse the cited evidence, build a
  prescription, run the mechanism simulator. Errors are RFC 9457 problem details.
* **CDS Hooks 2.0** under `/cds-services` (discovery, three services, feedback); every call
  needs a JWT signed by a trusted EHR.

It supports clinical judgement; it does not replace it.
"""


class LdnApp(FastAPI):
    """FastAPI with an outermost guard (ldn_derm.web.middleware.ErrorGuard): an unexpected
    error is a logged 500 problem and never drops a keep-alive connection."""

    def build_middleware_stack(self) -> Any:
        from ldn_derm.web.middleware import ErrorGuard

        return ErrorGuard(super().build_middleware_stack())

    def openapi(self) -> dict[str, Any]:
        """FastAPI's description, with the problem responses every API and CDS route can give
        (ldn_derm.web.openapi)."""
        if self.openapi_schema is None:
            from ldn_derm.web.openapi import complete_openapi

            self.openapi_schema = complete_openapi(super().openapi())
        return self.openapi_schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = LdnApp(
        title="ldn-derm",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served below from the vendored Swagger UI (no CDN: no internet)
        redoc_url=None,
    )
    app.state.settings = settings

    from ldn_derm.registry.db import Database
    from ldn_derm.registry.errors import DatabaseNotReadyError
    from ldn_derm.web.cds.store import MemoryReplayCache, ReplayCache
    from ldn_derm.web.cds.trust import ClientVerifier

    # One database, one engine (ldn_derm.registry.db) for the registry, the CDS and the SMART
    # tables; a fresh database gets its schema from the migrations, an older one is never
    # migrated here.
    database = Database(settings.resolved_database_url, auto_create=True)
    try:
        database.require_ready()
    except DatabaseNotReadyError as exc:
        log.warning("%s (the registry, the CDS feedback and SMART sessions need it)", exc)
    app.state.database = database
    engine = database.engine
    app.state.engine = engine
    replay = MemoryReplayCache() if settings.jti_cache == "memory" else ReplayCache(engine)
    app.state.cds_verifier = ClientVerifier(settings, replay) if settings.verify_jwt else None
    if app.state.cds_verifier is not None:
        app.state.cds_verifier.jwks.warm_up()
        open_issuers = [i for i in settings.trusted_issuers if not settings.fhir_servers_for(i)]
        if open_issuers:
            log.warning(
                "no fhir_servers list for %s: a call from it may name any https fhirServer",
                ", ".join(open_issuers),
            )
    if not settings.verify_jwt:
        log.warning("CDS Hooks JWT verification is OFF (--dev on a loopback address)")

    _install_error_handlers(app)
    _install_routes(app)
    _install_middleware(app, settings)
    _mount_registry(app, settings)
    _warm_up()
    return app


def _warm_up() -> None:
    """Load what the hot paths need before the first request, then take it out of GC scans.

    The knowledge base, terminology matcher and route tables are long-lived: without
    `gc.freeze()` every full collection walks them again, which showed as 100+ ms latency
    spikes under load.
    """
    import gc

    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.patient.terminology import matcher_for
    from ldn_derm.web.cds.services import services

    matcher_for(get_knowledge())
    services()
    gc.collect()
    gc.freeze()


def _install_routes(app: FastAPI) -> None:
    from ldn_derm.web.api import router as api_router
    from ldn_derm.web.cds.routes import router as cds_router
    from ldn_derm.web.pages import router as pages_router
    from ldn_derm.web.smart import router as smart_router

    # Routes are matched in order: the CDS services come first because an EHR calls them on
    # every order signature (matching through the API's many routes first cost tens of µs).
    app.include_router(cds_router)
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(pages_router)
    app.include_router(smart_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="ldn-derm API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
        # screen readers need the page language; FastAPI's template leaves it out
        html = bytes(page.body).decode().replace("<html>", '<html lang="en">', 1)
        return HTMLResponse(html)


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    from starlette.middleware.cors import CORSMiddleware

    from ldn_derm.web.middleware import BodySizeLimit, HeaderSizeLimit, SecurityHeaders

    # CORS (CDS Hooks §CORS, OWASP): an explicit origin allow-list, never "*" with credentials.
    origins = list(settings.allowed_origins)
    regex = None
    if not origins and settings.dev:
        regex = r"https?://(localhost|127\.0\.0\.1)(:\d+)?"
    if origins or regex:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_origin_regex=regex,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_seconds,
        html_page=_error_page,
    )
    app.add_middleware(HeaderSizeLimit)  # outermost of ours: before anything reads a header


def _error_page(status: int, slug: str, detail: str) -> bytes:
    """A page with the problem details in its error region (browsers get pages, not JSON)."""
    from ldn_derm.web.pages.common import render_page
    from ldn_derm.web.problems import problem_dict

    return render_page("error.html", problem=problem_dict(status, slug, detail)).encode()


def _install_error_handlers(app: FastAPI) -> None:
    from ldn_derm.web.problems import problem_for_error

    @app.exception_handler(LdnError)
    async def ldn_error(_request: Request, exc: LdnError) -> Response:
        status, slug, detail = problem_for_error(exc)
        if slug == "knowledge-error":
            # the message names data files (and may hold OS paths): for the log, not the client
            log.error("knowledge base error: %s", exc)
        return problem(status, slug, detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        ctype = request.headers.get("content-type", "")
        if request.url.path.startswith("/api/") and ctype and "json" not in ctype.lower():
            # FastAPI reads only JSON bodies: say why, not that the fields were wrong
            return problem(
                415,
                detail=f"The API takes JSON bodies (Content-Type: application/json), not "
                f"'{ctype[:80]}'.",
            )
        from ldn_derm.web.pages.common import wants_html

        in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
        if in_path and not request.url.path.startswith("/api/") and wants_html(request):
            # a page address with a malformed id (/registry/courses/abc): no such page, said
            # as a page (a browser would otherwise show raw problem JSON)
            text = (
                f"There is no page at {request.url.path}. It may have moved, or the link may "
                "be mistyped."
            )
            return HTMLResponse(_error_page(404, slug_for_status(404), text), status_code=404)
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": clinician_message(dict(err)),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        detail = str(first["message"])
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return problem(422, "validation-error", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        from ldn_derm.web.pages.common import wants_html

        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code in {404, 405} and wants_html(request):
            slug = slug_for_status(exc.status_code)
            text = (
                f"There is no page at {request.url.path}. It may have moved, or the link "
                "may be mistyped."
                if exc.status_code == 404
                else "This address does not accept that kind of request."
            )
            return HTMLResponse(
                _error_page(exc.status_code, slug, text), status_code=exc.status_code
            )
        return problem(
            exc.status_code,
            slug_for_status(exc.status_code),
            detail,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal-error", "An unexpected error occurred; it has been logged.")


def _mount_registry(app: FastAPI, settings: Settings) -> None:
    """The outcome registry mounts its own routes when its package is present."""
    try:
        from ldn_derm.web.registry import mount_registry
    except ImportError:
        return
    mount_registry(app, settings)
