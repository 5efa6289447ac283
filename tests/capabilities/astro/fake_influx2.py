"""A local HTTP server standing in for InfluxDB 2.x's ``/api/v2/query``.

It records every request (path, query string, headers, JSON body) and answers with the
canned annotated CSV (or status/body) the test sets. Loopback, free port, one thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeInflux2", "fake_influx2"]


@dataclass
class FakeInflux2:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    body: str = ""
    content_type: str = "text/csv; charset=utf-8"


@contextmanager
def fake_influx2() -> Iterator[FakeInflux2]:
    state = FakeInflux2()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)}
            )
            payload = state.body.encode()
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Influxdb-Version", "v2.7.11")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
