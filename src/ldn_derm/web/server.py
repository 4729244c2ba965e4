"""The HTTP protocol `ldn serve` runs: uvicorn's httptools protocol with a time limit and a
size limit on the request headers.

Time (`HeaderTimeoutProtocol`): uvicorn closes idle keep-alive connections, and the app limits
how long a request *body* may take (middleware.BodySizeLimit, 408), but nothing limits the
*headers*: a client sending one header byte every few seconds (slowloris) would hold its
connection for ever. This protocol closes a connection whose request line and headers have not
all arrived within `LDN_HEADER_TIMEOUT_SECONDS` (default 10) of the connection opening or of
the request's first byte. A response in progress is never cut.

Size (`LdnHttpProtocol`, the one `ldn serve` uses): uvicorn's httptools protocol has no limit
on header size, and httptools grows a header value by concatenation, chunk by chunk: a 10 MB
`Authorization` header cost a worker 180-240 ms of CPU before it could be refused (still about
180 ms with the app's own header cap alone, which runs only once the whole header is in). The
bytes of a request whose headers are not complete yet are counted as they arrive; past
`MAX_HEADER_BYTES` the request gets a 431 problem and the connection is closed, so the parser
never sees the rest. (The app's `HeaderSizeLimit` middleware applies the same cap when another
server runs it.)
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ldn_derm.web.middleware import MAX_HEADER_BYTES
from ldn_derm.web.problems import PROBLEM_MEDIA_TYPE

ENV_HEADER_TIMEOUT = "LDN_HEADER_TIMEOUT_SECONDS"
DEFAULT_HEADER_TIMEOUT_S = 10.0


def header_timeout_s() -> float:
    try:
        value = float(os.environ.get(ENV_HEADER_TIMEOUT, DEFAULT_HEADER_TIMEOUT_S))
    except ValueError:
        return DEFAULT_HEADER_TIMEOUT_S
    return value if value > 0 else DEFAULT_HEADER_TIMEOUT_S


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """httptools protocol + a deadline for each request's line and headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout_s()
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_header_timer()  # a pipelined request behind a running one: wait for it
            return
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


class LdnHttpProtocol(HeaderTimeoutProtocol):
    """HeaderTimeoutProtocol + a cap on the bytes of each request's line and headers."""

    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headers_pending = False
        self._pending_bytes = 0
        self._refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._headers_pending = True
        self._pending_bytes = 0

    def on_headers_complete(self) -> None:
        self._headers_pending = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if not self._headers_pending:
            return
        # counts the whole chunk: when a pipelined request began inside it, a little more
        # than its headers (never less)
        self._pending_bytes += len(data)
        if self._pending_bytes > self.max_header_bytes:
            self._refused = True
            self._send_431()

    def _send_431(self) -> None:
        body = orjson.dumps(
            {
                "type": "/problems#headers-too-large",
                "title": "Request headers too large",
                "status": 431,
                "detail": f"The request headers exceed the {self.max_header_bytes:,} bytes "
                "this server accepts.",
            }
        )
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
