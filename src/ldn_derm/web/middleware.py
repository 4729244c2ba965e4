"""Pure ASGI middleware: request-body size and time limits, and security headers.

Pure ASGI (not BaseHTTPMiddleware) keeps the per-request cost low on the CDS hot path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ldn_derm.web.problems import problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLargeError(Exception):
    pass


class BodyTimeoutError(Exception):
    pass


class BodySizeLimit:
    """Guard every request body (all routes, pure ASGI):

    - over `max_bytes`: 413, from Content-Length at once, else while reading (chunked bodies);
    - not complete within `timeout_s` of the first read (a slow or stalled client): 408.

    The refusal replaces whatever the route answers: a route's body parser may catch the
    error raised from `receive` and answer 400 itself, but once the limit is hit the client
    gets the 413 (or 408), with `Connection: close`, and the route's own answer is dropped.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_s: float | None = None,
        html_page: Callable[[int, str, str], bytes] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.html_page = html_page  # (status, slug, detail) -> a page, for browsers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length < 0 or length > self.max_bytes:
                    await self._reject(scope, receive, send, 400 if length < 0 else 413)
                    return
        seen = 0
        body_done = False
        deadline: float | None = None
        refusal: int | None = None  # 413 or 408 once the body broke a limit
        started = False

        async def guarded_receive() -> Message:
            nonlocal seen, body_done, deadline, refusal
            if body_done or self.timeout_s is None:
                message = await receive()
            else:
                loop = asyncio.get_running_loop()
                if deadline is None:
                    deadline = loop.time() + self.timeout_s
                try:
                    message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
                except TimeoutError:
                    refusal = 408
                    raise BodyTimeoutError from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if not message.get("more_body", False):
                    body_done = True
                if seen > self.max_bytes:
                    refusal = 413
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refusal is not None:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(scope, receive, send, refusal)
                return  # the route's own answer to a refused body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if refusal is None:  # not ours (the error raised from receive, or what a route
                raise  # made of it): let the app's error handling have it
        if refusal is not None and not started:
            await self._reject(scope, receive, send, refusal)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, status: int) -> None:
        detail = {
            400: "The Content-Length header is not a valid number.",
            408: f"The request body did not arrive within {self.timeout_s or 0:g} seconds.",
            413: f"The request body is larger than the {self.max_bytes:,} bytes this server "
            "accepts.",
        }[status]
        if self.html_page is not None and _wants_html(scope):
            from starlette.responses import HTMLResponse

            slug = {400: "invalid-input", 408: "request-timeout", 413: "payload-too-large"}[status]
            page = HTMLResponse(
                self.html_page(status, slug, detail),
                status_code=status,
                headers={"Connection": "close"},
            )
            await page(scope, receive, send)
            return
        response = problem(status, detail=detail, headers={"Connection": "close"})
        await response(scope, receive, send)


def _wants_html(scope: Scope) -> bool:
    """A browser's form post (a page or htmx), not an API or CDS client."""
    path: str = scope.get("path", "")
    if path.startswith(("/api/", "/cds-services")):
        return False
    headers = dict(scope.get("headers", ()))
    return headers.get(b"hx-request") == b"true" or b"text/html" in headers.get(b"accept", b"")


MAX_HEADER_BYTES = 64 * 1024  # all request headers together (names and values)


class HeaderSizeLimit:
    """Refuse requests whose headers total more than `max_bytes` with 431 (RFC 6585), before
    any route reads them: a 10 MB Authorization header would otherwise be decoded and parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = 0
            for name, value in scope.get("headers", ()):
                size += len(name) + len(value)
            if size > self.max_bytes:
                response = problem(
                    431,
                    "headers-too-large",
                    f"The request headers total {size:,} bytes; this server accepts at most "
                    f"{self.max_bytes:,}.",
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Pages only load our own static files; the API docs page needs its inline bootstrap script.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # never mutate the response's list
                message["headers"] = headers
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                # SVG can carry script when opened directly: it gets the page policy too
                is_html = any(
                    k == b"content-type" and v.startswith((b"text/html", b"image/svg+xml"))
                    for k, v in headers
                )
                if is_html:
                    csp = DOCS_CSP if path.startswith("/docs") else PAGE_CSP
                    headers.append((b"content-security-policy", csp.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
            await send(message)

        await self.app(scope, receive, add_headers)


class ErrorGuard:
    """The outermost layer: no exception ever reaches the server.

    Starlette's ServerErrorMiddleware answers an unhandled error with our 500 problem, then
    re-raises it, and uvicorn closes a connection whose application raised, so a keep-alive
    client's next request failed too. Here an error after the response has started is only
    logged (the response went out; the connection stays usable), and one before it gets the
    500 problem response, logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        ended = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                ended = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            import logging

            log = logging.getLogger("ldn_derm.web")
            if ended:
                # ServerErrorMiddleware has already sent (and our handler logged) the 500
                log.debug("error after the response was sent; connection kept", exc_info=True)
                return
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path", ""))
            if started:
                raise  # half a response went out: only closing the connection ends it cleanly
            response = problem(
                500, "internal-error", "An unexpected error occurred; it has been logged."
            )
            await response(scope, receive, send)
