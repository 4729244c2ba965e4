"""Pure ASGI middleware: request-body size limit and security headers.

Pure ASGI (not BaseHTTPMiddleware) keeps the per-request cost low on the CDS hot path.
"""

from __future__ import annotations

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


class BodySizeLimit:
    """Refuse bodies over `max_bytes` with 413: from Content-Length at once, else while reading."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        html_page: Callable[[int, str, str], bytes] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
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
                    await self._reject(scope, receive, send, length)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await self._reject(scope, receive, send, seen)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, length: int) -> None:
        detail = (
            f"The request body is larger than the {self.max_bytes:,} bytes this server accepts."
            if length >= 0
            else "The Content-Length header is not a valid number."
        )
        status = 413 if length >= 0 else 400
        if self.html_page is not None and _wants_html(scope):
            from starlette.responses import HTMLResponse

            slug = "payload-too-large" if status == 413 else "invalid-input"
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
