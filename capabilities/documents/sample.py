"""Demo mode: a small invented archive served in paperless-ngx's own format, no network.

:func:`transport` returns an ``httpx.MockTransport`` that answers the requests the client
makes (``/api/tags/``, ``/api/correspondents/``, ``/api/document_types/``, ``/api/documents/``
with filters and ``query=``) the way a paperless-ngx 2.20 server does for API version 9:
paginated lists, ``__search_hit__`` with relative scores and ``<span class="match">``
highlights, full documents including ``notes`` (so demo mode shows that notes never reach the
agent), the trailing-slash redirect and ``Invalid page.``. Unqualified words also match tag
names and notes, as they do on a real 2.x server; ``(title:w OR content:w)`` groups match
title and text only.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import httpx

from gateway.capability import SAMPLE_BASE_URL

__all__ = ["BASE_URL", "load_archive", "transport"]

BASE_URL = SAMPLE_BASE_URL  # the gateway serves sample clients there
HEADERS = {"content-type": "application/json", "x-api-version": "9", "x-version": "2.20.15"}
_WORD = re.compile(r"[^\W_]+")
_QUALIFIED = re.compile(r"\(title:([^\W_]+) OR content:\1\)")
_OPERATORS = ("AND", "OR", "NOT")


def load_archive() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("sample_data/archive.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def transport(archive: dict[str, Any] | None = None) -> httpx.MockTransport:
    data = archive if archive is not None else load_archive()

    def handle(request: httpx.Request) -> httpx.Response:
        return _handle(data, request)

    return httpx.MockTransport(handle)


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, headers=HEADERS, content=json.dumps(body).encode())


def _handle(data: dict[str, Any], request: httpx.Request) -> httpx.Response:
    path = request.url.path
    params = dict(request.url.params)
    if request.method != "GET":
        return _json(405, {"detail": f'Method "{request.method}" not allowed.'})
    if not path.endswith("/"):
        location = "/accounts/login/?next=" + path
        return httpx.Response(302, headers={"location": location, "content-type": "text/html"})
    kind = path.removeprefix("/api/").rstrip("/")
    if kind in ("tags", "correspondents", "document_types"):
        items = sorted(data[kind], key=lambda o: str(o["name"]).casefold())
        return _page(request, params, items, search=False)
    if kind == "documents":
        return _documents(data, request, params)
    return _json(404, {"detail": "Not found."})


def _ids(value: str | None) -> set[int] | None:
    if value is None:
        return None
    try:
        return {int(v) for v in value.split(",") if v}
    except ValueError:
        return None  # paperless ignores a malformed id list


def _documents(data: dict[str, Any], request: httpx.Request, p: dict[str, str]) -> httpx.Response:
    docs = sorted(data["documents"], key=lambda d: (d["created"], d["id"]), reverse=True)
    checks: dict[str, Callable[[dict[str, Any], set[int]], bool]] = {
        "tags__id__all": lambda d, ids: ids <= set(d["tags"]),
        "tags__id__in": lambda d, ids: bool(ids & set(d["tags"])),
        "tags__id__none": lambda d, ids: not ids & set(d["tags"]),
        "correspondent__id__in": lambda d, ids: d["correspondent"] in ids,
        "document_type__id__in": lambda d, ids: d["document_type"] in ids,
        "id__in": lambda d, ids: d["id"] in ids,
    }
    for key, check in checks.items():
        ids = _ids(p.get(key))
        if ids is not None:
            docs = [d for d in docs if check(d, ids)]
    if "created__date__gte" in p:
        docs = [d for d in docs if d["created"] >= p["created__date__gte"]]
    if "created__date__lte" in p:
        docs = [d for d in docs if d["created"] <= p["created__date__lte"]]
    if "query" not in p:
        return _page(request, p, docs, search=False)
    qualified = _QUALIFIED.findall(p["query"])
    terms = qualified or [w.lower() for w in _WORD.findall(p["query"]) if w not in _OPERATORS]
    hits = []
    for doc in docs:
        # (title:w OR content:w) searches title and text only; bare words also tags and notes
        text = f"{doc['title']} {doc['content']}".lower() if qualified else _searchable(data, doc)
        counts = [len(re.findall(rf"\b{re.escape(t)}\b", text)) for t in terms]
        if terms and all(counts):
            hits.append((sum(counts), doc))
    hits.sort(key=lambda h: -h[0])
    best = hits[0][0] if hits else 1
    ranked = []
    for rank, (score, doc) in enumerate(hits):
        hit = {"score": score / best, "highlights": _highlight(doc["content"], terms)}
        ranked.append({**doc, "__search_hit__": {**hit, "note_highlights": "", "rank": rank}})
    return _page(request, p, ranked, search=True)


def _searchable(data: dict[str, Any], doc: dict[str, Any]) -> str:
    tags = [t["name"] for t in data["tags"] if t["id"] in doc["tags"]]
    notes = [n["note"] for n in doc["notes"]]
    return " ".join([doc["title"], doc["content"], *tags, *notes]).lower()


def _highlight(content: str, terms: list[str]) -> str:
    lower = content.lower()
    spots = [m.start() for t in terms for m in re.finditer(rf"\b{re.escape(t)}\b", lower)]
    if not spots:
        return ""
    start = max(0, min(spots) - 60)
    excerpt = html.escape(content[start : start + 160], quote=False)
    for n, term in enumerate(terms):
        mark = rf'<span class="match term{n}">\g<0></span>'
        excerpt = re.sub(rf"\b{re.escape(term)}\b", mark, excerpt, flags=re.IGNORECASE)
    return excerpt


def _page(
    request: httpx.Request, p: dict[str, str], items: list[Any], search: bool
) -> httpx.Response:
    size = int(p["page_size"]) if p.get("page_size", "").isdigit() and int(p["page_size"]) else 25
    raw_page = p.get("page", "1")
    number = int(raw_page) if raw_page.isdigit() else 0
    pages = max(1, -(-len(items) // size))
    if not 1 <= number <= pages:
        return _json(404, {"detail": "Invalid page."})
    chunk = items[(number - 1) * size : number * size]
    fields = p.get("fields")
    if fields:
        keep = set(fields.split(",")) | {"__search_hit__"}
        chunk = [{k: v for k, v in item.items() if k in keep} for item in chunk]
    base = f"{BASE_URL}{request.url.path}?"
    body: dict[str, Any] = {
        "count": len(items),
        "next": base + urlencode({**p, "page": number + 1}) if number < pages else None,
        "previous": base + urlencode({**p, "page": number - 1}) if number > 1 else None,
        "all": [item["id"] for item in items],
        "results": chunk,
    }
    if search:
        body["corrected_query"] = None
    return _json(200, body)
