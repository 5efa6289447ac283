"""A fake of the lab's HTTP APIs (Home Assistant, Frigate, Proxmox, Gitea) on a real loopback
HTTP server, serving the recorded-style responses shipped beside the example tool files
(``capabilities/declarative/examples/*.sample.json``) with their status codes and headers.

It behaves like the services where the tests need it to:

* every upstream sits under its own path prefix (``/ha``, ``/frigate``, ``/pve``, ``/gitea``),
  as behind a reverse proxy, so a request that leaves its prefix is visible;
* a wrong or missing credential gets each service's own 401 (Home Assistant ``401:
  Unauthorized`` text, Proxmox ``{"data":null}`` with an empty reason, Gitea JSON message);
* faults per upstream: ``wrong_shape`` (valid JSON of another shape), ``html``, ``huge``;
* every request is recorded raw (request line target and Host header) for assertions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from capabilities.declarative import EXAMPLES
from capabilities.declarative.loader import load_definitions
from capabilities.declarative.sample import SampleBook, SampleReply, books

__all__ = ["PREFIXES", "TOKENS", "FakeLab", "Seen", "serve"]

#: Path prefix of each upstream on the fake server.
PREFIXES = {"homeassistant": "/ha", "frigate": "/frigate", "proxmox": "/pve", "gitea": "/gitea"}
#: The Authorization header each upstream expects.
TOKENS = {
    "homeassistant": "Bearer ha-long-lived-token",
    "frigate": "Bearer frigate-token",
    "proxmox": "PVEAPIToken=labgate@pve!hermes=5d1c2a8e-1111-4a2b-9c3d-0e9f8a7b6c5d",
    "gitea": "Token gitea-read-token",
}
_UNAUTHORIZED = {
    "homeassistant": SampleReply(
        401, {"content-type": "text/plain; charset=utf-8"}, b"401: Unauthorized"
    ),
    "frigate": SampleReply(
        401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
    ),
    "proxmox": SampleReply(
        401, {"content-type": "application/json;charset=UTF-8"}, b'{"data":null}'
    ),
    "gitea": SampleReply(
        401,
        {"content-type": "application/json;charset=utf-8"},
        b'{"message":"token is required","url":"https://git.lab.internal/api/swagger"}',
    ),
}


@dataclass(frozen=True, slots=True)
class Seen:
    target: str  # the raw request-target as received
    host: str


@dataclass
class FakeLab:
    books: dict[str, SampleBook] = field(
        default_factory=lambda: books(load_definitions(EXAMPLES, None))
    )
    check_auth: bool = True
    faults: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, method: str, target: str, headers: dict[str, str]) -> SampleReply:
        with self.lock:
            self.seen.append(Seen(target, headers.get("host", "")))
        path, _, query = target.partition("?")
        found = [(u, p) for u, p in PREFIXES.items() if path.startswith(p + "/")]
        if not found:
            return SampleReply(404, {"content-type": "text/plain"}, b"no such upstream")
        upstream, prefix = found[0]
        if self.check_auth and headers.get("authorization") != TOKENS[upstream]:
            return _UNAUTHORIZED[upstream]
        if method != "GET":
            return SampleReply(405, {"content-type": "text/plain"}, b"Method Not Allowed")
        fault = self.faults.get(upstream)
        if fault == "wrong_shape":
            shape = {"items": "not what the tool expects", "count": 3}
            return SampleReply(
                200, {"content-type": "application/json"}, json.dumps(shape).encode()
            )
        if fault == "html":
            return SampleReply(200, {"content-type": "text/html"}, b"<html>login</html>")
        if fault == "huge":
            body = json.dumps([{"x": "y" * 1000}] * 2000).encode()
            return SampleReply(200, {"content-type": "application/json"}, body)
        params = parse_qsl(query, keep_blank_values=True)
        return self.books[upstream].reply(path[len(prefix) :], params)

    def targets(self) -> list[str]:
        with self.lock:
            return [s.target for s in self.seen]


def _handler(fake: FakeLab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.respond(self.command, self.path, headers)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_HEAD = _any

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def serve(fake: FakeLab) -> Iterator[str]:
    """Run ``fake`` on a free loopback port; yields ``http://127.0.0.1:<port>``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
