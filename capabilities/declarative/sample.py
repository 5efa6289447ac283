"""Demo data: each tool file may have a ``<stem>.sample.json`` beside it with responses in the
upstream's own format::

    {"responses": [{"path": "/api/states/sensor.outdoor_temperature", "query": {},
                    "status": 200, "headers": {"content-type": "application/json"},
                    "body": {...}}],                      # or "text": "..." for a raw body
     "fallback": {"status": 404, "headers": {...}, "body": {"message": "Entity not found."}}}

In sample mode ``setup`` serves them through an ``httpx.MockTransport`` per upstream at
``http://sample.invalid``, so demo mode runs the real request, client and projection code with
no network. A response matches on the raw (percent-encoded) path and on every query parameter
it names; otherwise the fallback of the tool whose fixed path prefix matches best answers.
The test suite serves the same files from a real loopback HTTP server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.capability import SAMPLE_BASE_URL

from .loader import Definitions

__all__ = ["SAMPLE_BASE_URL", "SampleBook", "SampleReply", "sample_file", "sample_transports"]

SAMPLE_BASE_URL = SAMPLE_BASE_URL  # the gateway serves sample clients there
_NOT_FOUND = (404, {"content-type": "text/plain; charset=utf-8"}, b"404: Not Found")


@dataclass(frozen=True, slots=True)
class SampleReply:
    status: int
    headers: dict[str, str]
    body: bytes


def _reply(entry: dict[str, Any]) -> SampleReply:
    headers = {str(k).lower(): str(v) for k, v in entry.get("headers", {}).items()}
    if "text" in entry:
        body = str(entry["text"]).encode()
    else:
        body = json.dumps(entry.get("body"), ensure_ascii=False).encode()
        headers.setdefault("content-type", "application/json")
    return SampleReply(int(entry.get("status", 200)), headers, body)


@dataclass(slots=True)
class _Entry:
    path: str
    query: dict[str, str]
    reply: SampleReply


@dataclass(slots=True)
class SampleBook:
    """Canned responses of one upstream, matched by path and query."""

    entries: list[_Entry] = field(default_factory=list)
    fallbacks: list[tuple[str, SampleReply]] = field(default_factory=list)

    def add_file(self, path: Path, tool_path: str) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data.get("responses", []):
            query = {str(k): str(v) for k, v in entry.get("query", {}).items()}
            self.entries.append(_Entry(entry["path"], query, _reply(entry)))
        if "fallback" in data:
            prefix = tool_path.partition("{")[0]
            self.fallbacks.append((prefix, _reply(data["fallback"])))
            self.fallbacks.sort(key=lambda item: -len(item[0]))

    def reply(self, raw_path: str, query: Sequence[tuple[str, str]]) -> SampleReply:
        got = dict(query)
        for entry in self.entries:
            if entry.path == raw_path and all(got.get(k) == v for k, v in entry.query.items()):
                return entry.reply
        for prefix, reply in self.fallbacks:
            if raw_path.startswith(prefix):
                return reply
        return SampleReply(*_NOT_FOUND)


def sample_file(tool_file: Path) -> Path:
    return tool_file.with_name(tool_file.name.removesuffix(".yaml") + ".sample.json")


def books(definitions: Definitions) -> dict[str, SampleBook]:
    """One book per upstream, from the sample files beside the tool files."""
    out: dict[str, SampleBook] = {}
    for name, defn in definitions.tools.items():
        book = out.setdefault(defn.upstream, SampleBook())
        sample = sample_file(definitions.files[name])
        if sample.is_file():
            book.add_file(sample, defn.request.path)
    return out


def _handler(book: SampleBook) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            return httpx.Response(405, text="Method Not Allowed")
        raw_path = request.url.raw_path.decode("ascii").partition("?")[0]
        reply = book.reply(raw_path, list(request.url.params.multi_items()))
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

    return handle


def sample_transports(definitions: Definitions) -> dict[str, httpx.AsyncBaseTransport]:
    """A transport per upstream over its sample book (served at ``SAMPLE_BASE_URL``)."""
    return {
        upstream: httpx.MockTransport(_handler(book))
        for upstream, book in books(definitions).items()
    }
