"""PaperlessClient: the request contract and how recorded answers become values or errors."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from capabilities.documents.client import (
    ACCEPT,
    PARAMETERS,
    BadQuery,
    BadResponse,
    CredentialsRejected,
    InvalidPage,
    PaperlessClient,
    PaperlessError,
)

from .fake_paperless import FLAVOURS, HERE, recording

OPENAPI = json.loads((HERE / "openapi-params.json").read_text("utf-8"))["parameters"]
NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


@pytest.mark.parametrize("version", FLAVOURS)
def test_every_parameter_is_declared_by_the_server(version: str) -> None:
    """paperless ignores unknown parameters: a typo would silently drop a scope filter."""
    for path, names in PARAMETERS.items():
        assert names <= set(OPENAPI[version][path]), (path, names - set(OPENAPI[version][path]))


def _replaying(version: str, name: str) -> PaperlessClient:
    response = recording(version, name)["response"]
    body = response.get("body_json")
    content = json.dumps(body).encode() if body is not None else (response.get("body_text") or "")

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == ACCEPT
        return httpx.Response(response["status"], headers=response["headers"], content=content)

    return PaperlessClient(
        httpx.AsyncClient(base_url="http://x", transport=httpx.MockTransport(handler))
    )


@pytest.mark.parametrize(
    ("version", "name", "error"),
    [
        ("3.0.5", "search-hermes-syntax-odd", BadQuery),  # 400 text/html
        ("3.0.5", "v3-search-hermes-bad-date-400", BadQuery),  # 400 JSON
        ("2.20.15", "documents-list-hermes-page-out-of-range-404", InvalidPage),
        ("2.20.15", "auth-401-invalid-token", CredentialsRejected),
        ("2.20.15", "no-trailing-slash-redirect", BadResponse),  # 302 to the login page
        ("2.20.15", "version-406-unsupported", BadResponse),
        ("2.20.15", "autocomplete-hermes-limit-non-int", BadResponse),  # 500 HTML page
        ("2.20.15", "document-detail-hermes-999-missing-404", BadResponse),  # not a list answer
    ],
)
async def test_recorded_failures_become_typed_errors(
    version: str, name: str, error: type[PaperlessError]
) -> None:
    client = _replaying(version, name)
    with pytest.raises(error):
        await client.documents({"query": "x"})


@pytest.mark.parametrize("version", FLAVOURS)
async def test_recorded_search_parses(version: str) -> None:
    page = await _replaying(version, "search-hermes-telescope").documents({"query": "telescope"})
    assert page.server_major == int(version[0])
    assert page.count == len(page.documents) > 0
    assert all(doc.title for doc in page.documents)
    for unread in ("notes", "hit", "__search_hit__"):  # highlights quote notes (2.x)
        assert not hasattr(page.documents[0], unread)


async def test_non_json_success_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html>login")

    client = PaperlessClient(
        httpx.AsyncClient(base_url="http://x", transport=httpx.MockTransport(handler))
    )
    with pytest.raises(BadResponse):
        await client.names("tags", NOW)


async def test_requests_outside_the_contract_are_refused() -> None:
    client = _replaying("2.20.15", "search-hermes-telescope")
    with pytest.raises(ValueError, match="contract"):
        await client.documents({"tags__id__alll": "1"})
    assert client.requests == 0


async def test_name_cache_ttl_and_pagination() -> None:
    pages = {
        "1": {
            "count": 3,
            "next": "http://x/api/tags/?page=2",
            "results": [{"id": 1, "name": "a"}, {"id": 2, "name": "B"}],
        },
        "2": {"count": 3, "next": None, "results": [{"id": 7, "name": "c"}]},
    }
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        assert request.url.path == "/api/tags/"
        return httpx.Response(200, json=pages[request.url.params["page"]])

    http = httpx.AsyncClient(base_url="http://x", transport=httpx.MockTransport(handler))
    client = PaperlessClient(http, cache_ttl_seconds=60)
    names = await client.names("tags", NOW)
    assert names.names == {1: "a", 2: "B", 7: "c"} and names.ids_of("b") == {2}
    await client.names("tags", NOW + dt.timedelta(seconds=59))
    assert len(seen) == 2  # cached
    await client.names("tags", NOW + dt.timedelta(seconds=60))
    await client.names("tags", NOW - dt.timedelta(seconds=1))  # clock went back: refetch
    assert len(seen) == 6
