"""The HTTP protocol `ldn serve` gives uvicorn: httptools with a cap on request header size.

uvicorn's httptools protocol has no limit on header size, and httptools grows a header value
by concatenation, chunk by chunk: a 10 MB `Authorization` header cost a worker 180-240 ms of
CPU before it could be refused (still about 180 ms with the app's own header cap alone, which
runs only once the whole header is in). Here the bytes of a request whose headers are not
complete yet are counted as they arrive; past `MAX_HEADER_BYTES` the request gets a 431
problem and the connection is closed, so the parser never sees the rest. (The app's own
`HeaderSizeLimit` middleware applies the same cap when another server runs it.)
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ldn_derm.web.middleware import MAX_HEADER_BYTES
from ldn_derm.web.problems import PROBLEM_MEDIA_TYPE


class CappedHttpToolsProtocol(HttpToolsProtocol):
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


def http_protocol() -> Any:
    """The protocol for uvicorn's `http` option: the capped httptools one when httptools is
    installed, else "h11" (which has its own limit, `h11_max_incomplete_event_size`)."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return CappedHttpToolsProtocol
