"""The only code that talks to paperless-ngx.

It takes an injected ``httpx.AsyncClient`` whose base URL is the paperless server (the gateway
pins it, injects the token, caps sizes and maps transport failures). Every request:

* is a GET on a fixed ``/api/.../`` path, always with the trailing slash (without it
  paperless redirects to its login page);
* pins ``Accept: application/json; version=9``, which 2.20 and 3.0 both serve;
* uses only query parameters from :data:`PARAMETERS`, which a test checks against the
  OpenAPI schemas of both server versions (paperless silently ignores unknown parameters).

Never called: ``/api/search/`` (full content), ``/download/``, ``/preview/``, ``/notes/``.
Answers become values or :class:`PaperlessError` subclasses; ``tools.py`` maps those once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from gateway.capability import SingleFlight

from .wire import NamedObject, Page, WireDocument

__all__ = [
    "ACCEPT",
    "KINDS",
    "PARAMETERS",
    "BadQuery",
    "BadResponse",
    "CredentialsRejected",
    "InvalidPage",
    "Kind",
    "NameMap",
    "PaperlessClient",
    "PaperlessError",
    "PaperlessWriter",
    "ResultPage",
]

ACCEPT = "application/json; version=9"
Kind = Literal["tags", "correspondents", "document_types"]
KINDS: tuple[Kind, ...] = ("tags", "correspondents", "document_types")

#: Every query parameter this client may send, per path. Checked against both OpenAPI schemas.
_DOCUMENT_PARAMETERS = """
    query page page_size fields id__in tags__id__all tags__id__in tags__id__none
    correspondent__id__in document_type__id__in created__date__gte created__date__lte
"""
PARAMETERS: dict[str, frozenset[str]] = {
    "/api/documents/": frozenset(_DOCUMENT_PARAMETERS.split()),
    **{f"/api/{kind}/": frozenset({"page", "page_size"}) for kind in KINDS},
}

NAME_PAGE_SIZE = 500
NAME_MAX_PAGES = 20
INTERNAL_BODY_CHARS = 200


class PaperlessError(Exception):
    """Base of what the client reports; the message is for logs only."""


class CredentialsRejected(PaperlessError):
    """401/403: the gateway's token is wrong or lacks a permission."""


class InvalidPage(PaperlessError):
    """404 ``Invalid page.``: the page is past the end (the result set shrank)."""


class BadQuery(PaperlessError):
    """400 on a search (3.x answers syntax errors with text/html, bad dates with JSON)."""


class BadResponse(PaperlessError):
    """Anything else: redirects, 404 on a list, 406, 5xx, non-JSON, unexpected shape."""


@dataclass(frozen=True, slots=True)
class NameMap:
    """Ids and names of one kind of object, as the gateway's paperless user sees them."""

    names: dict[int, str]
    fetched_at: dt.datetime

    def ids_of(self, name: str) -> frozenset[int]:
        """Every id whose name matches ``name`` case-insensitively.

        Paperless names are unique only per (name, owner) and case-sensitive: any user who
        may add tags can create a twin, so one name can stand for several ids.
        """
        wanted = name.casefold()
        return frozenset(i for i, known in self.names.items() if known.casefold() == wanted)

    def knows(self, ids: list[int]) -> bool:
        """True when every id is in the map."""
        return all(i in self.names for i in ids)


@dataclass(frozen=True, slots=True)
class ResultPage:
    documents: list[WireDocument]
    count: int
    has_next: bool
    #: Major version from ``X-Version`` (2 or 3), ``None`` when the header is missing.
    server_major: int | None


class PaperlessClient:
    def __init__(self, http: httpx.AsyncClient, *, cache_ttl_seconds: float = 300) -> None:
        self._http = http
        self._ttl = dt.timedelta(seconds=cache_ttl_seconds)
        #: Name maps by kind: one fetch at a time per kind, kept for the TTL of the call time.
        self._names: SingleFlight[NameMap] = SingleFlight()
        #: Requests sent so far (for tests and the per-call figure).
        self.requests = 0

    async def documents(self, params: dict[str, str]) -> ResultPage:
        """``GET /api/documents/`` (a list or, with ``query``, a full-text search)."""
        response = await self._get("/api/documents/", params)
        page = _parse(Page, self._json(response))
        try:
            docs = [WireDocument.model_validate(item) for item in page.results]
        except ValidationError as exc:
            raise BadResponse(f"unexpected document shape: {exc.error_count()} errors") from None
        return ResultPage(docs, page.count, page.next is not None, _major(response))

    async def names(self, kind: Kind, now: dt.datetime, *, refresh: bool = False) -> NameMap:
        """All objects of ``kind`` (id -> name), cached for the TTL; one fetch at a time.

        Freshness is judged on the call's ``now``: a clock that went back refetches too."""
        cached = self._names.peek(kind)
        if refresh or (cached is not None and not _fresh(cached, now, self._ttl)):
            self._names.invalidate(kind)

        async def fetch() -> NameMap:
            return NameMap(await self._all_names(kind), now)

        ttl = self._ttl.total_seconds()
        found, _ = await self._names.get_or_run(kind, ttl, now.timestamp, fetch)
        return found

    async def _all_names(self, kind: Kind) -> dict[int, str]:
        names: dict[int, str] = {}
        for number in range(1, NAME_MAX_PAGES + 1):
            params = {"page_size": str(NAME_PAGE_SIZE), "page": str(number)}
            page = _parse(Page, self._json(await self._get(f"/api/{kind}/", params)))
            for item in page.results:
                obj = _parse(NamedObject, item)
                names[obj.id] = obj.name
            if page.next is None:
                return names
        raise BadResponse(f"more than {NAME_PAGE_SIZE * NAME_MAX_PAGES} {kind}")

    async def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        allowed = PARAMETERS.get(path)
        if allowed is None or not set(params) <= allowed:
            raise ValueError(f"request outside the client's contract: {path} {sorted(params)}")
        self.requests += 1
        return await self._http.get(path, params=params, headers={"Accept": ACCEPT})

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        status = response.status_code
        ctype = response.headers.get("content-type", "")
        body = response.text[:INTERNAL_BODY_CHARS] if status != 200 else ""
        if status == 200 and ctype.startswith("application/json"):
            try:
                return response.json()
            except ValueError:
                raise BadResponse("200 with a body that is not JSON") from None
        if status == 200:
            raise BadResponse(f"200 with content type {ctype!r}")
        if status in (401, 403):
            raise CredentialsRejected(f"credentials rejected ({status}): {body!r}")
        if status == 404 and ctype.startswith("application/json") and "Invalid page" in body:
            raise InvalidPage("page past the end")
        if status == 400:
            raise BadQuery(f"400 {ctype}: {body!r}")
        if 300 <= status < 400:
            location = response.headers.get("location", "")[:INTERNAL_BODY_CHARS]
            raise BadResponse(f"redirect {status} to {location!r}")
        raise BadResponse(f"status {status} {ctype}: {body!r}")


#: The fields an applied proposal may change (``PATCH /api/documents/{id}/``).
WRITABLE = frozenset({"title", "tags", "correspondent", "document_type"})


class PaperlessWriter:
    """The write side, over its own client and token (which may change documents).

    One request only: ``PATCH /api/documents/{id}/`` with a JSON body limited to
    :data:`WRITABLE` (the schema's ``PatchedDocumentRequest``). Reads stay on
    :class:`PaperlessClient` with the read token.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.requests = 0

    async def patch_document(self, document_id: int, body: dict[str, Any]) -> WireDocument:
        if not set(body) <= WRITABLE or not body:
            raise ValueError(f"write outside the client's contract: {sorted(body)}")
        self.requests += 1
        response = await self._http.patch(
            f"/api/documents/{int(document_id)}/", json=body, headers={"Accept": ACCEPT}
        )
        if response.status_code == 404:
            raise BadResponse("document not found (404) for the write token")
        data = PaperlessClient._json(response)
        try:
            return WireDocument.model_validate(data)
        except ValidationError as exc:
            raise BadResponse(f"unexpected document shape: {exc.error_count()} errors") from None


def _parse(model: type[Page] | type[NamedObject], value: Any) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise BadResponse(
            f"unexpected {model.__name__} shape: {exc.error_count()} errors"
        ) from None


def _fresh(cached: NameMap, now: dt.datetime, ttl: dt.timedelta) -> bool:
    age = now - cached.fetched_at
    return dt.timedelta(0) <= age < ttl


def _major(response: httpx.Response) -> int | None:
    head = response.headers.get("x-version", "").split(".", 1)[0]
    return int(head) if head.isdigit() else None
