"""The guarding transport every upstream request goes through.

It wraps the real (or a test) transport and, per request: refuses URLs outside the pinned
origin and base path, enforces the circuit breaker, injects the upstream credential on a
private copy of the request, retries connection errors of idempotent requests, enforces the
total deadline, reads the body under the size cap, and maps every failure to a
:mod:`gateway.errors` type. Only 2xx and 4xx responses come back, fully read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import anyio
import httpx
from opentelemetry import trace

from gateway.errors import UpstreamError, UpstreamFailure, UpstreamTimeout, UpstreamUnavailable
from gateway.telemetry import Telemetry
from gateway.upstream.body import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    UnsupportedEncoding,
    declared_length,
    decode,
    read_capped,
)
from gateway.upstream.breaker import Breaker, Permit
from gateway.upstream.guard import Origin
from gateway.upstream.settings import Credential, UpstreamSettings, load_credential
from gateway.upstream.trail import note_status

__all__ = ["IDEMPOTENT_EXTENSION", "JSON_LINES_EXTENSION", "GuardedTransport", "UpstreamResponse"]

log = logging.getLogger(__name__)

#: ``request.extensions[IDEMPOTENT_EXTENSION] = True`` lets a non-GET request be retried.
IDEMPOTENT_EXTENSION = "labgate_idempotent"
#: ``request.extensions[JSON_LINES_EXTENSION] = True``: the answer is one JSON document per line
#: (InfluxDB's chunked ``/query``); each line is checked instead of the body as one document.
JSON_LINES_EXTENSION = "labgate_json_lines"
BACKOFF_SECONDS = 0.1
_INTERNAL_MAX = 200
#: Statuses that say labgate's own credential is wrong or lacks a permission: logged.
_REFUSED = frozenset({401, 403, 407})
_DROPPED_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
_DROPPED_HEADERS |= {b"set-cookie", b"set-cookie2"}  # clients stay stateless: no cookie jar


class UpstreamResponse(httpx.Response):
    """A fully read upstream response; ``json()`` reuses the parse done by the JSON check."""

    parsed: Any = None
    has_parsed: bool = False

    def json(self, **kwargs: Any) -> Any:
        if self.has_parsed and not kwargs:
            return self.parsed
        return super().json(**kwargs)


class _Failure(Exception):
    """Internal: carries the mapped error, its metric label and whether the breaker counts it."""

    def __init__(self, error: UpstreamFailure, kind: str, *, counts: bool) -> None:
        super().__init__(kind)
        self.error, self.kind, self.counts = error, kind, counts


class GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        name: str,
        settings: UpstreamSettings,
        breaker: Breaker,
        *,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.breaker = breaker
        self._inner = inner
        self._telemetry = telemetry
        self._origin = Origin.from_base_url(settings.base_url)
        self._credential: Credential | None = (
            load_credential(name, settings.auth) if settings.auth else None
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode("ascii").partition("?")[0][:_INTERNAL_MAX]
        reason = self._origin.check(request.url)
        if reason is not None:
            self._count("refused", 0.0)
            log.warning("upstream %s: %s refused: %s", self.name, request.method, reason)
            raise UpstreamError(self.name, internal=f"request refused: {reason}")
        permit = self.breaker.acquire()
        if permit is None:
            self._count("breaker_open", 0.0)
            raise UpstreamUnavailable(self.name, internal="circuit breaker open")
        start = time.perf_counter()
        verdict: bool | None = None
        kind = "error"
        with self._span(request.method, path) as span:
            try:
                response = await self._exchange(request)
                kind = f"{response.status_code // 100}xx"
                verdict = True
                self._note(request.method, path, response.status_code)
                span.set_attribute("http.response.status_code", response.status_code)
                return response
            except _Failure as failure:
                kind, verdict = failure.kind, not failure.counts
                span.set_attribute("error.type", failure.error.code)
                span.set_status(trace.StatusCode.ERROR, failure.kind)
                log.warning(
                    "upstream %s: %s %s failed: %s",
                    self.name,
                    request.method,
                    path,
                    failure.error.internal,
                )
                raise failure.error from None
            except BaseException as exc:  # cancelled by the caller, or a bug below us
                kind = "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
                raise
            finally:
                self._settle(permit, verdict)
                self._count(kind, time.perf_counter() - start)

    def secret_forms(self) -> tuple[str, ...]:
        """The credential's plain values (for the result scrubber); empty without auth."""
        return self._credential.forms() if self._credential is not None else ()

    async def aclose(self) -> None:
        await self._inner.aclose()

    # -- one exchange -------------------------------------------------------------------

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        s = self.settings
        try:
            with anyio.fail_after(s.total_timeout):
                response = await self._send(request)
                note_status(response.status_code)
                try:
                    self._check_status(response)
                    length = declared_length(response.headers.get("content-length"))
                    if length is not None and length > s.max_response_bytes:
                        raise BodyTooLarge(f"declared length {length} over the cap")
                    assert isinstance(response.stream, httpx.AsyncByteStream)
                    raw = await read_capped(response.stream, s.max_response_bytes)
                finally:
                    await response.aclose()
            body = decode(raw, response.headers.get("content-encoding"), s.max_response_bytes)
        except (TimeoutError, httpx.TransportError, BodyTooLarge, UnsupportedEncoding) as exc:
            raise self._failure(exc) from None
        if response.status_code >= 500:
            text = body[: 4 * _INTERNAL_MAX].decode("utf-8", "replace")
            internal = self._internal(f"HTTP {response.status_code}: ", text)
            raise _Failure(UpstreamError(self.name, internal=internal), "5xx", counts=True)
        return self._build_response(response, body, request)

    def _failure(self, exc: Exception) -> _Failure:
        """Map a low-level failure to its gateway error, metric label and breaker weight."""
        name = self.name
        if isinstance(exc, TimeoutError):
            internal = f"deadline of {self.settings.total_timeout} s passed"
            return _Failure(UpstreamTimeout(name, internal=internal), "timeout", counts=True)
        if isinstance(exc, httpx.TimeoutException):
            internal = type(exc).__name__
            return _Failure(UpstreamTimeout(name, internal=internal), "timeout", counts=True)
        if isinstance(exc, httpx.ConnectError):
            internal = self._internal("connect failed: ", str(exc))
            return _Failure(
                UpstreamUnavailable(name, internal=internal), "connect_error", counts=True
            )
        if isinstance(exc, httpx.TransportError):
            internal = type(exc).__name__
            return _Failure(UpstreamError(name, internal=internal), "protocol_error", counts=True)
        if isinstance(exc, BodyTooLarge):
            internal = f"response too large: {exc}"
            return _Failure(UpstreamError(name, internal=internal), "too_large", counts=False)
        internal = self._internal("", str(exc))
        return _Failure(UpstreamError(name, internal=internal), "bad_body", counts=False)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        wire = self._wire_request(request)
        retries = self.settings.retries if _retryable(request) else 0
        attempt = 0
        while True:
            try:
                return await self._inner.handle_async_request(wire)
            except httpx.ConnectError:
                if attempt >= retries:
                    raise
                await anyio.sleep(BACKOFF_SECONDS * 2**attempt)
                attempt += 1

    def _wire_request(self, request: httpx.Request) -> httpx.Request:
        """A private copy that carries the credential; the caller's request never does."""
        headers = request.headers.copy()
        headers["Host"] = self._origin.netloc
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        if self._credential is not None:
            headers[self._credential.header] = self._credential.value.get_secret_value()
        return httpx.Request(
            request.method,
            request.url,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )

    def _check_status(self, response: httpx.Response) -> None:
        if 300 <= response.status_code < 400:
            try:
                host = httpx.URL(response.headers.get("location", "")).host or "the same host"
            except httpx.InvalidURL:
                host = "an unparseable location"
            internal = "redirect refused to " + self._internal("", host, quote=False)
            raise _Failure(UpstreamError(self.name, internal=internal), "3xx", counts=False)

    def _build_response(
        self, response: httpx.Response, body: bytes, request: httpx.Request
    ) -> httpx.Response:
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _DROPPED_HEADERS]
        extensions: dict[str, Any] = {
            k: response.extensions[k]
            for k in ("http_version", "reason_phrase")
            if k in response.extensions
        }
        result = UpstreamResponse(
            response.status_code, headers=headers, content=body, extensions=extensions
        )
        if self.settings.check_json and _wants_json_check(result):
            lines = request.extensions.get(JSON_LINES_EXTENSION) is True
            try:
                if lines:
                    for line in body.splitlines():
                        if line.strip():
                            json.loads(line)
                else:
                    result.parsed = json.loads(body)
            except ValueError:
                error = UpstreamError(self.name, internal="response is not valid JSON")
                raise _Failure(error, "bad_body", counts=False) from None
            result.has_parsed = not lines
        return result

    # -- bookkeeping --------------------------------------------------------------------

    def _settle(self, permit: Permit, verdict: bool | None) -> None:
        if verdict is None:
            self.breaker.release(permit)
        elif verdict:
            self.breaker.success()
        else:
            self.breaker.failure()

    def _note(self, method: str, path: str, status: int) -> None:
        if status in _REFUSED:
            log.warning(
                "upstream %s: %s %s answered %d: credentials rejected or lacking a permission",
                self.name,
                method,
                path,
                status,
            )

    def _count(self, kind: str, seconds: float) -> None:
        if self._telemetry is not None:
            self._telemetry.record_upstream(self.name, kind, seconds)

    @contextmanager
    def _span(self, method: str, path: str) -> Iterator[trace.Span]:
        if self._telemetry is None:
            with nullcontext(trace.INVALID_SPAN) as span:
                yield span
            return
        with self._telemetry.span(
            "upstream.request",
            **{
                "labgate.upstream": self.name,
                "http.request.method": method,
                "server.address": self._origin.host,
                "url.path": path,
            },
        ) as span:
            yield span

    def _internal(self, prefix: str, text: str, *, quote: bool = True) -> str:
        """``prefix`` + foreign ``text``, credential redacted *before* truncation, for logs only."""
        if self._credential is not None:
            text = self._credential.redact(text[: _INTERNAL_MAX + self._credential.longest])
        text = text[:_INTERNAL_MAX]
        return prefix + (repr(text) if quote else text)


def _retryable(request: httpx.Request) -> bool:
    marked: object = request.extensions.get(IDEMPOTENT_EXTENSION)
    return request.method in ("GET", "HEAD") or marked is True


def _wants_json_check(response: httpx.Response) -> bool:
    if not 200 <= response.status_code < 300 or response.status_code == 204:
        return False
    ctype = str(response.headers.get("content-type", "")).partition(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json")
