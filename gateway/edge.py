"""The HTTP edge: what a connection may cost before a request reaches the application.

uvicorn's httptools protocol buffers a request head of any size (the parser joins a header value
piece by piece, so a 64 MB header costs several times that), times a connection out only while it
idles after a response, and accepts every connection. :class:`BoundedHttpToolsProtocol` adds, per
listener (:class:`~gateway.settings.ListenSettings`):

* a cap on open connections: one more is answered 503 and closed before anything is read;
* a deadline for a request head, from the connection's opening or from the first byte after a
  response: 408 and close (a pipelined head that is late closes the connection after the response
  in progress);
* a cap on a head's bytes, counted before the parser sees them: 431 and close. The same cap
  holds for any stretch of bytes in which the parser reports no progress (no body byte, no chunk
  boundary): the trailer fields after a chunked body are buffered like header fields;
* a cap on the number of header fields: 431 and close.

Idle keep-alive is uvicorn's own ``timeout_keep_alive``. uvicorn's ``limit_concurrency`` is not
used: it counts connections whose head is still arriving, so slow connections would turn every
normal request into a 503.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.settings import ListenSettings

__all__ = ["EDGE_CODES", "BoundedHttpToolsProtocol", "bounded_protocol", "uvicorn_config"]


def _answer(status: int, reason: str, code: str, detail: str) -> bytes:
    """A complete ``connection: close`` response with an RFC 9457 body, built once."""
    body = json.dumps(
        {
            "type": "urn:labgate:problem:" + code,
            "title": code.replace("_", " "),
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": None,
        },
        separators=(",", ":"),
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


TOO_MANY_CONNECTIONS = _answer(
    503, "Service Unavailable", "too_many_connections", "Too many open connections; retry later."
)
HEADER_TOO_LARGE = _answer(
    431,
    "Request Header Fields Too Large",
    "header_too_large",
    "The request head is too large or has too many header fields.",
)
REQUEST_TIMEOUT = _answer(
    408, "Request Timeout", "request_timeout", "The request head did not arrive in time."
)
#: The codes answered at the edge (documented in docs/envelope.md).
EDGE_CODES = ("too_many_connections", "header_too_large", "request_timeout")


class _TooManyHeaders(Exception):
    """Stops the parser in ``on_header``; uvicorn's parser-error path then answers."""


def _ignore(code: str) -> None:
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of :attr:`limits` (see the module doc)."""

    limits: ClassVar[ListenSettings] = ListenSettings()
    #: Told the code of each refusal (a metric); never blocks.
    on_refusal: ClassVar[Callable[[str], None]] = _ignore

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._head_deadline: asyncio.TimerHandle | None = None
        #: Bytes fed since the parser last reported progress: what it may be holding.
        self._held = 0
        self._too_many_headers = False

    # Connection life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            type(self).on_refusal("too_many_connections")
            return
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser no more than ``max_header_bytes`` past its last progress."""
        if self._refused or self.transport.is_closing():
            return
        if self._head_deadline is None and self._between_requests():
            self._start_head()
        while data:
            room = self.limits.max_header_bytes - self._held
            if room <= 0:
                self._close_with(HEADER_TOO_LARGE, "header_too_large")
                return
            chunk, data = data[:room], data[room:]
            self._held += len(chunk)
            super().data_received(chunk)
            if self.transport.is_closing():
                return

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:  # a pipelined request
            self._start_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if len(self.headers) > self.limits.max_headers:
            self._too_many_headers = True
            raise _TooManyHeaders

    def on_headers_complete(self) -> None:
        self._held = 0
        self._stop_head()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._held = 0
        super().on_body(body)

    def on_chunk_header(self) -> None:
        self._held = 0

    def on_chunk_complete(self) -> None:
        self._held = 0

    def on_message_complete(self) -> None:
        self._held = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_many_headers:
            self._close_with(HEADER_TOO_LARGE, "header_too_large")
            return
        super().send_400_response(msg)

    # The head deadline

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _start_head(self) -> None:
        self._head_deadline = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _stop_head(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_late(self) -> None:
        self._head_deadline = None
        if self._between_requests():
            self._close_with(REQUEST_TIMEOUT, "request_timeout")
        else:  # a pipelined head: no answer may cut into the response in progress
            self.cycle.keep_alive = False
            self.flow.pause_reading()

    def _close_with(self, answer: bytes, code: str) -> None:
        self._stop_head()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()
            type(self).on_refusal(code)


def bounded_protocol(
    limits: ListenSettings, on_refusal: Callable[[str], None] = _ignore
) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for one listener (uvicorn builds one instance per connection)."""

    class ListenerProtocol(BoundedHttpToolsProtocol):
        pass

    ListenerProtocol.limits = limits
    ListenerProtocol.on_refusal = on_refusal
    return ListenerProtocol


def uvicorn_config(
    app: Any,
    listen: ListenSettings,
    *,
    on_refusal: Callable[[str], None] = _ignore,
    **options: Any,
) -> uvicorn.Config:
    """A uvicorn configuration that serves ``app`` on ``listen`` within its bounds."""
    return uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        http=bounded_protocol(listen, on_refusal),
        ws="none",
        timeout_keep_alive=listen.keep_alive_timeout,
        **options,
    )
