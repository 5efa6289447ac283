"""A real HTTP server that misbehaves on purpose, for upstream-plumbing tests.

It runs its own asyncio loop in a thread on a free loopback port, so sync and async tests can
use it and the test's event loop never serves it. Every request is recorded (method, path,
headers, body) and the bytes sent per route are counted.

Routes (query parameters in brackets):

    /ok                JSON {"ok": true}
    /echo              JSON {"method", "path", "headers"}: what arrived
    /status/<code>     that status with a JSON error body holding UPSTREAM_TEXT
    /500               500 with a body holding UPSTREAM_TEXT; [echo=1 pad=N]: N bytes, then
                       the Authorization header received
    /garbage           200 application/json whose body is binary garbage
    /big               [size=N] [length=1]: N bytes (default: endless), Content-Length if asked
    /gzip-bomb         [size=N]: gzip of N zero bytes, Content-Encoding: gzip
    /redirect          302 to ``redirect_to`` (set by the test) or [to=URL]
    /drip              [interval=s]: 200, then one byte every interval, forever
    /slow-headers      [interval=s]: status line, then one header line every interval, forever
    /hang              reads the request, never answers
    /v1/traces         POST sink for OTLP/HTTP: 200, body recorded

Fixtures: ``misbehaving`` and ``misbehaving_other`` (a second server, "another host"),
``closed_port`` (a loopback port nobody listens on).
"""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.net import free_port

__all__ = [
    "UPSTREAM_TEXT",
    "MisbehavingServer",
    "Recorded",
    "closed_port",
    "misbehaving",
    "misbehaving_other",
]

#: Appears in every error body; a test asserts it never reaches an agent-facing message.
UPSTREAM_TEXT = "UPSTREAM-INTERNAL-TEXT do-not-show"
CHUNK = 16 * 1024
_MAX_HEAD = 64 * 1024


@dataclass(slots=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class MisbehavingServer:
    host: str = "127.0.0.1"
    port: int = 0
    redirect_to: str | None = None
    requests: list[Recorded] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def start(self) -> MisbehavingServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._accept, self.host, 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="misbehaving-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("misbehaving server did not start")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    # -- serving ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        rec = Recorded(method, parts.path, query, headers, body)
        self.requests.append(rec)
        await self._route(rec, writer)

    async def _route(self, rec: Recorded, w: asyncio.StreamWriter) -> None:
        q = {k: v[0] for k, v in rec.query.items()}
        path = rec.path
        if path == "/ok":
            await self._send(w, path, 200, json.dumps({"ok": True}).encode())
        elif path == "/echo":
            doc = {"method": rec.method, "path": path, "headers": rec.headers}
            await self._send(w, path, 200, json.dumps(doc).encode())
        elif path.startswith("/status/"):
            body = json.dumps({"error": UPSTREAM_TEXT}).encode()
            await self._send(w, path, int(path.rsplit("/", 1)[1]), body)
        elif path == "/500":
            body = f"Traceback (most recent call last): {UPSTREAM_TEXT}".encode()
            if "echo" in q:  # a debug page that shows our credential after `pad` bytes
                pad = "x" * int(q.get("pad", "0"))
                body = f"{pad}{rec.headers.get('authorization', '')} {UPSTREAM_TEXT}".encode()
            await self._send(w, path, 500, body, ctype="text/plain")
        elif path == "/garbage":
            await self._send(w, path, 200, b"\x00\xff\xfe{not json" + bytes(range(256)))
        elif path == "/big":
            await self._big(w, path, int(q["size"]) if "size" in q else None, "length" in q)
        elif path == "/gzip-bomb":
            body = _gzip_zeros(int(q.get("size", str(64 * 1024 * 1024))))
            await self._send(w, path, 200, body, extra={"Content-Encoding": "gzip"})
        elif path == "/redirect":
            location = self.redirect_to or q.get("to", "http://example.invalid/")
            await self._send(w, path, 302, b"", extra={"Location": location})
        elif path == "/drip":
            await self._drip(w, path, float(q.get("interval", "0.5")), headers_phase=False)
        elif path == "/slow-headers":
            await self._drip(w, path, float(q.get("interval", "0.5")), headers_phase=True)
        elif path == "/hang":
            await asyncio.Event().wait()
        elif path == "/v1/traces":
            await self._send(w, path, 200, b"", ctype="application/x-protobuf")
        else:
            await self._send(w, path, 404, json.dumps({"error": UPSTREAM_TEXT}).encode())

    async def _send(
        self,
        w: asyncio.StreamWriter,
        path: str,
        status: int,
        body: bytes,
        *,
        ctype: str = "application/json",
        extra: dict[str, str] | None = None,
    ) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        head += ["Connection: close", "", ""]
        await self._write(w, path, "\r\n".join(head).encode() + body)

    async def _big(
        self, w: asyncio.StreamWriter, path: str, size: int | None, length: bool
    ) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n"
        if length and size is not None:
            head += f"Content-Length: {size}\r\n"
        await self._write(w, path, (head + "\r\n").encode())
        chunk = b"x" * CHUNK
        left = size
        while left is None or left > 0:
            piece = chunk if left is None or left >= CHUNK else chunk[:left]
            await self._write(w, path, piece)
            if left is not None:
                left -= len(piece)

    async def _drip(
        self, w: asyncio.StreamWriter, path: str, interval: float, *, headers_phase: bool
    ) -> None:
        if headers_phase:
            await self._write(w, path, b"HTTP/1.1 200 OK\r\n")
            while True:
                await asyncio.sleep(interval)
                await self._write(w, path, b"X-Slow: a\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
        await self._write(w, path, head)
        while True:
            await asyncio.sleep(interval)
            await self._write(w, path, b".")

    async def _write(self, w: asyncio.StreamWriter, path: str, data: bytes) -> None:
        w.write(data)
        await w.drain()
        self.bytes_sent[path] = self.bytes_sent.get(path, 0) + len(data)


def _gzip_zeros(size: int) -> bytes:
    """gzip of ``size`` zero bytes, built without ever holding them (keeps memory tests fair)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(CHUNK)
    out = [packer.compress(zeros) for _ in range(size // CHUNK)]
    out.append(packer.compress(bytes(size % CHUNK)))
    out.append(packer.flush())
    return b"".join(out)


def _running() -> Iterator[MisbehavingServer]:
    server = MisbehavingServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def misbehaving() -> Iterator[MisbehavingServer]:
    """A fresh misbehaving server on a free loopback port, stopped after the test."""
    yield from _running()


@pytest.fixture
def misbehaving_other() -> Iterator[MisbehavingServer]:
    """A second server, standing for "another host" (redirect targets must never see a hit)."""
    yield from _running()


@pytest.fixture
def closed_port() -> int:
    """A loopback port that was free a moment ago and has no listener."""
    return free_port()
