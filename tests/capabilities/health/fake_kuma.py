"""A faithful fake Uptime Kuma, built from the recordings in ``recordings/<version>/``.

It answers the endpoints the health capability reads with the recorded bodies, status codes
and headers, and reproduces the recorded quirks:

* ``/metrics`` needs HTTP Basic with the API key as password (username ignored); anything
  else, and more than 60 requests in a minute, gets the recorded 401 (empty body).
* ``/api/status-page/<unknown slug>``: 1.23 never answers (the connection hangs); 2.x: 404.
* ``/api/status-page/heartbeat/<unknown slug>``: 200 with empty lists.
* A cache miss carries ``cache-control: no-cache``; a repeat within the server-side cache
  time does not (as recorded in ``status-page-lab-cache-hit.json``).
* Unknown paths fall through to the web UI: 200 ``text/html``.

Faults can be injected per path (``hang``, ``garbage``, ``html``, ``500``) and bodies can be
replaced (``overrides``) to serve generated states. Served over a real HTTP server on a free
loopback port (``serve()``) or in-process (``transport()``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

__all__ = ["API_KEY", "VERSIONS", "FakeKuma", "Reply", "serve"]

RECORDINGS = Path(__file__).parent / "recordings"
VERSIONS = ("1.23.17", "2.0.2", "2.5.3")
API_KEY = "uk1_fixture-secret"
_SKIP_HEADERS = {"content-length", "connection", "keep-alive", "date", "transfer-encoding"}
_CACHE_SECONDS = {"heartbeat": 60.0, "page": 300.0}
HTML_INDEX = b"<!DOCTYPE html><html><head><title>Uptime Kuma</title></head><body></body></html>"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class FakeKuma:
    """``fixture``: ``""`` for the main recorded state (``recordings/<version>/``), ``"edge"``
    for the edge states (``recordings/edge/<version>/``: same-named monitors, private tags,
    a page without tags, a paused monitor, a URL with credentials; see its README)."""

    def __init__(
        self, version: str, *, api_key: str = API_KEY, rate_limit: int = 60, fixture: str = ""
    ) -> None:
        self.version = version
        self.api_key = api_key
        self.rate_limit = rate_limit
        folder = RECORDINGS / fixture / version if fixture else RECORDINGS / version
        self._folder = folder
        self.slugs = tuple(
            p.name.removeprefix("status-page-").removesuffix(".json")
            for p in sorted(folder.glob("status-page-*.json"))
            if not p.name.startswith(("status-page-heartbeat-", "status-page-unknown"))
            and "cache-hit" not in p.name
        )
        # Exchanges an edge fixture did not record (refused key, unknown slug) are the
        # version's main recordings.
        self._entries: dict[str, tuple[Path, dict[str, Any]]] = {}
        for source in dict.fromkeys((RECORDINGS / version, folder)):
            for entry in json.loads((source / "index.json").read_text())["responses"]:
                if entry.get("file"):
                    self._entries[entry["file"]] = (source, entry)
        self.requests: Counter[str] = Counter()
        self.faults: dict[str, str] = {}
        self.overrides: dict[str, Reply] = {}
        self._metrics_times: deque[float] = deque()
        self._cached_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.release = threading.Event()

    @property
    def hangs_on_unknown_slug(self) -> bool:
        return self.version.startswith("1.")

    def _recorded(self, file: str, *, cache_hit: bool = False) -> Reply:
        source, entry = self._entries[file]
        headers = {k: v for k, v in entry["headers"].items() if k not in _SKIP_HEADERS}
        if cache_hit:
            headers.pop("cache-control", None)
        return Reply(entry["status"], headers, (source / file).read_bytes())

    def respond(self, method: str, path: str, authorization: str | None) -> Reply | None:
        """The reply to one request, or ``None`` when the real server would never answer."""
        with self._lock:
            self.requests[path] += 1
            fault = self.faults.get(path) or self.faults.get("*")
            if fault == "hang":
                return None
            reply = self._route(method, path, authorization)
        if reply is None:
            return None
        if fault == "garbage":
            return Reply(200, reply.headers, b"\x00\xffnot { what you expected <html>")
        if fault == "html":
            return Reply(200, {"content-type": "text/html; charset=utf-8"}, HTML_INDEX)
        if fault == "500":
            return Reply(500, {"content-type": "text/html; charset=utf-8"}, b"Internal error")
        return reply

    def _route(self, method: str, path: str, authorization: str | None) -> Reply | None:
        if method != "GET":
            return Reply(
                404, {"content-type": "text/html; charset=utf-8"}, b"Cannot " + method.encode()
            )
        if path == "/metrics":
            return self._metrics(authorization)
        if path.startswith("/api/status-page/heartbeat/"):
            slug = path.rsplit("/", 1)[1]
            file = f"status-page-heartbeat-{slug if slug in self.slugs else 'unknown-slug'}.json"
            return self._cached(path, "heartbeat", self.overrides.get(path) or self._recorded(file))
        if path.startswith("/api/status-page/") and path.count("/") == 3:
            slug = (
                path.rsplit("/", 1)[1].lower()
                if not self.hangs_on_unknown_slug
                else path.rsplit("/", 1)[1]
            )
            if path in self.overrides:
                return self._cached(path, "page", self.overrides[path])
            if slug not in self.slugs:
                return (
                    None
                    if self.hangs_on_unknown_slug
                    else self._recorded("status-page-unknown-slug.json")
                )
            return self._cached(path, "page", self._recorded(f"status-page-{slug}.json"))
        return Reply(200, {"content-type": "text/html; charset=utf-8"}, HTML_INDEX)

    def _metrics(self, authorization: str | None) -> Reply:
        now = time.monotonic()
        while self._metrics_times and now - self._metrics_times[0] > 60:
            self._metrics_times.popleft()
        self._metrics_times.append(now)
        refused = self._recorded("metrics-wrong-key.txt")
        if len(self._metrics_times) > self.rate_limit or not self._key_ok(authorization):
            return refused
        return self.overrides.get("/metrics") or self._recorded("metrics.txt")

    def _key_ok(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:]).decode()
        except ValueError:
            return False
        return decoded.partition(":")[2] == self.api_key

    def _cached(self, path: str, kind: str, reply: Reply) -> Reply:
        now = time.monotonic()
        first = self._cached_at.get(path)
        if first is not None and now - first < _CACHE_SECONDS[kind] and reply.status == 200:
            headers = {k: v for k, v in reply.headers.items() if k != "cache-control"}
            return Reply(reply.status, headers, reply.body)
        if reply.status == 200:
            self._cached_at[path] = now
        return reply

    def transport(self) -> httpx.MockTransport:
        """The same fake, in-process (for property tests that need thousands of calls)."""

        async def handle(request: httpx.Request) -> httpx.Response:
            reply = self.respond(
                request.method, request.url.path, request.headers.get("authorization")
            )
            if reply is None:
                await asyncio.Event().wait()  # never answers; the client's deadline ends it
                raise AssertionError("unreachable")
            return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

        return httpx.MockTransport(handle)


def _handler(fake: FakeKuma) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            path = self.path.split("?", 1)[0]
            reply = fake.respond(self.command, path, self.headers.get("Authorization"))
            if reply is None:
                fake.release.wait(30)
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("X-Frame-Options", "SAMEORIGIN")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(fake: FakeKuma) -> Iterator[str]:
    """Run ``fake`` on a free loopback port; yields its base URL; stops exactly that server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-kuma", daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
