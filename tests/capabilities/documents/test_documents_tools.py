"""The documents tools against the fake paperless-ngx (both flavours), attacks included."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from capabilities.documents import tools
from capabilities.documents.client import PaperlessClient
from capabilities.documents.query import build_query, words
from capabilities.documents.schemas import (
    DocumentsConfig,
    DocumentsScope,
    GetArgs,
    ListTagsArgs,
    SearchArgs,
)
from gateway.errors import (
    Denied,
    InvalidArguments,
    NotFound,
    UpstreamError,
    UpstreamUnavailable,
)
from tests.support.net import free_port

from .documents_fixtures import RunningFake, paperless_client, tool_context
from .fake_paperless import TOKENS

AGENT_VISIBLE = DocumentsScope(tags_all=["agent-visible"], tags_none=["medical"])
IN_SCOPE = {1, 3, 6, 7, 11, 12, 13}  # fixture.json: example_gateway_policy
_ASKED = re.compile(r"\(title:([^\W_]+) OR content:\1\)")
NOTE_TEXTS = ("Private note from alice", "statins", "Great seeing that night", "retry M33")


@pytest.fixture
async def admin(paperless_fake: RunningFake) -> AsyncIterator[PaperlessClient]:
    client = paperless_client(paperless_fake.url, "admin")
    yield client
    await client._http.aclose()
    _assert_safe_requests(paperless_fake)


@pytest.fixture
async def hermes(paperless_fake: RunningFake) -> AsyncIterator[PaperlessClient]:
    client = paperless_client(paperless_fake.url, "hermes")
    yield client
    await client._http.aclose()
    _assert_safe_requests(paperless_fake)


def _assert_safe_requests(running: RunningFake) -> None:
    """Every request: GET, trailing slash, version 9 pinned, no global search/files/notes."""
    for entry in running.fake.log:
        assert entry.method == "GET"
        assert entry.path.endswith("/")
        assert entry.path in (
            "/api/documents/",
            "/api/tags/",
            "/api/correspondents/",
            "/api/document_types/",
        )
        assert entry.headers["accept"] == "application/json; version=9"
        for key, value in entry.query:
            if key == "query":  # each word asked for in title and content only
                assert all(_ASKED.fullmatch(part) for part in value.split(" AND ")), value
            if key == "fields":
                assert "notes" not in value.split(",")


def _searches(running: RunningFake) -> list[dict[str, str]]:
    return [dict(e.query) for e in running.fake.log if "query" in dict(e.query)]


async def test_search_returns_scope_only_in_one_shape(
    admin: PaperlessClient, paperless_fake: RunningFake
) -> None:
    out = await tools.search.handler(
        SearchArgs(query="telescope"), tool_context(admin, AGENT_VISIBLE)
    )
    ids = [hit.id for hit in out.items]
    # doc 8 (no agent-visible) and 10 (no tags) stay out; 13 ("telescopes") matches only
    # through 3.x stemming, and a hit needs the word itself in readable text
    assert set(ids) == {1, 6, 7}
    assert [hit.rank for hit in out.items] == list(range(1, len(ids) + 1))
    assert out.items[0].score == 1.0
    assert all(0 <= hit.score <= 1 for hit in out.items)
    assert all("<" not in hit.snippet and hit.snippet for hit in out.items)
    assert any("telescope" in hit.snippet.lower() for hit in out.items)
    seven = next(hit for hit in out.items if hit.id == 7)
    assert (seven.correspondent, seven.document_type) == ("Skyward Optics", "Invoice")
    assert seven.tags == ["agent-visible", "astro", "finance"]
    sent = _searches(paperless_fake)[0]
    assert sent["query"] == "(title:telescope OR content:telescope)"
    assert sent["tags__id__all"] == "1" and sent["tags__id__none"] == "4"


async def test_requests_per_search_cold_and_warm(
    admin: PaperlessClient, paperless_fake: RunningFake
) -> None:
    """The figure: 4 upstream requests on a cold name cache, 1 when warm."""
    ctx = tool_context(admin, AGENT_VISIBLE)
    await tools.search.handler(SearchArgs(query="invoice"), ctx)
    assert admin.requests == 4 and len(paperless_fake.fake.log) == 4
    await tools.search.handler(SearchArgs(query="telescope", tags=["astro"]), ctx)
    assert admin.requests == 5 and len(paperless_fake.fake.log) == 5
    await tools.get_document.handler(GetArgs(document_id=7), ctx)
    await tools.list_tags.handler(ListTagsArgs(), ctx)
    assert admin.requests == 6  # warm: get 1, list_tags 0


async def test_words_are_anded_on_both_versions(
    admin: PaperlessClient, paperless_fake: RunningFake
) -> None:
    args = SearchArgs(query="invoice telescope")
    out = await tools.search.handler(args, tool_context(admin, AGENT_VISIBLE))
    assert [hit.id for hit in out.items] == [7]  # 3.x alone would OR: 7,3,13,6,1
    sent = _searches(paperless_fake)[0]["query"]
    assert sent == "(title:invoice OR content:invoice) AND (title:telescope OR content:telescope)"


@pytest.mark.parametrize(
    "query",
    [
        "notes.note:statins",
        "tag:medical",
        "tag_id:4",
        "owner_id:5",
        "owner:alice statins",
        "(statins",
        "NOT invoice",
        "statins*",
        '"statins"',
        "notes:seeing",
    ],
)
async def test_query_syntax_never_widens_the_search(
    hermes: PaperlessClient, paperless_fake: RunningFake, query: str
) -> None:
    scope = DocumentsScope(tags_all=["agent-visible"])  # doc 5 (medical, hidden tag) is in scope
    ctx = tool_context(hermes, scope)
    out = await tools.search.handler(SearchArgs(query=query), ctx)
    text = out.model_dump_json()
    assert all(note not in text for note in NOTE_TEXTS)
    assert 5 not in [hit.id for hit in out.items]
    assert _searches(paperless_fake)[0]["query"] == build_query(words(query))


async def test_hidden_tag_name_and_note_matches_are_dropped(
    hermes: PaperlessClient, paperless_fake: RunningFake
) -> None:
    """Bare words match hidden tag names (both) and notes (2.x); title/content words do not."""
    for query in ("medical", "statins"):
        ctx = tool_context(hermes, DocumentsScope(tags_all=["agent-visible"]))
        out = await tools.search.handler(SearchArgs(query=query), ctx)
        assert out.items == [] and "match_unverified" not in ctx.notes  # not even upstream


async def test_unresolvable_scope_name_fails_closed(
    hermes: PaperlessClient, paperless_fake: RunningFake
) -> None:
    """hermes cannot see tag `medical`: without its id the exclusion would vanish."""
    ctx = tool_context(hermes, AGENT_VISIBLE)
    with pytest.raises(UpstreamError) as caught:
        await tools.search.handler(SearchArgs(query="cholesterol"), ctx)
    assert "medical" not in caught.value.detail
    assert "medical" in (caught.value.internal or "")
    assert _searches(paperless_fake) == []  # no search ran without the filter
    assert len(paperless_fake.fake.log) == 6  # names fetched, then refetched once
    with pytest.raises(UpstreamError):
        await tools.get_document.handler(GetArgs(document_id=5), ctx)


class _DropParams(httpx.AsyncBaseTransport):
    """An upstream that ignores the scope filters (as paperless does with bad values)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        params = [(k, v) for k, v in request.url.params.multi_items() if "tags__" not in k]
        request.url = request.url.copy_with(params=params)
        return await self.inner.handle_async_request(request)


def _leaky(url: str) -> PaperlessClient:
    http = httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Token {TOKENS['admin']}"},
        transport=_DropParams(httpx.AsyncHTTPTransport()),
    )
    return PaperlessClient(http)


async def test_second_check_drops_what_upstream_let_through(paperless_fake: RunningFake) -> None:
    client = _leaky(paperless_fake.url)
    try:
        ctx = tool_context(client, AGENT_VISIBLE)
        out = await tools.search.handler(SearchArgs(query="cholesterol"), ctx)
        assert out.items == []
        assert ctx.notes["scope_dropped"] == [4, 5]
        ctx = tool_context(client, AGENT_VISIBLE)
        with pytest.raises(NotFound) as caught:
            await tools.get_document.handler(GetArgs(document_id=5), ctx)
        assert caught.value.detail == NotFound().detail
        assert ctx.notes["scope_dropped"] == [5]
    finally:
        await client._http.aclose()


async def test_get_truncates_and_hides_notes(admin: PaperlessClient) -> None:
    scope = AGENT_VISIBLE.model_copy(update={"max_content_chars": 1000})
    ctx = tool_context(admin, scope)
    doc = await tools.get_document.handler(GetArgs(document_id=12), ctx)
    assert (len(doc.content), doc.content_chars, doc.content_truncated) == (1000, 9423, True)
    assert ctx.partial is True
    ctx = tool_context(admin, scope)
    doc = await tools.get_document.handler(GetArgs(document_id=6), ctx)
    assert not doc.content_truncated and ctx.partial is False
    assert "Great seeing" not in doc.model_dump_json()
    assert doc.document_type == "Observation Log" and doc.tags == ["agent-visible", "astro"]


async def test_out_of_scope_is_exactly_not_found(admin: PaperlessClient) -> None:
    errors = []
    for ident in (5, 8, 999):  # medical, not agent-visible, missing
        with pytest.raises(NotFound) as caught:
            await tools.get_document.handler(
                GetArgs(document_id=ident), tool_context(admin, AGENT_VISIBLE)
            )
        errors.append((caught.value.status, caught.value.code, caught.value.detail))
    assert len(set(errors)) == 1


async def test_list_tags_hides_forbidden_names(admin: PaperlessClient) -> None:
    out = await tools.list_tags.handler(ListTagsArgs(), tool_context(admin, AGENT_VISIBLE))
    assert [t.name for t in out.items] == ["agent-visible", "astro", "finance"]


async def test_agent_filters(admin: PaperlessClient, paperless_fake: RunningFake) -> None:
    ctx = tool_context(admin, AGENT_VISIBLE)
    out = await tools.search.handler(
        SearchArgs(query="telescope", correspondent="skyward optics", document_type="Invoice"), ctx
    )
    assert [hit.id for hit in out.items] == [7]
    out = await tools.search.handler(
        SearchArgs(query="telescope", created_after="2025-01-18", created_before="2025-12-31"), ctx
    )
    assert 7 not in {hit.id for hit in out.items} and out.items  # strictly after
    for bad in (SearchArgs(query="x1", tags=["medical"]), SearchArgs(query="x1", tags=["nope"])):
        with pytest.raises(InvalidArguments) as caught:
            await tools.search.handler(bad, ctx)
        assert caught.value.detail.startswith("Unknown tag name")


async def test_cursor_pages_and_strict_decoding(
    admin: PaperlessClient, paperless_fake: RunningFake
) -> None:
    ctx = tool_context(admin, AGENT_VISIBLE)
    first = await tools.search.handler(SearchArgs(query="telescope", page_size=1), ctx)
    assert first.next_cursor is not None and first.items[0].rank == 1
    second = await tools.search.handler(
        SearchArgs(query="telescope", page_size=1, cursor=first.next_cursor), ctx
    )
    assert second.items[0].rank == 2 and second.items[0].id != first.items[0].id
    assert 0 <= second.items[0].score <= 1
    for cursor, query in (
        (first.next_cursor, "invoice"),
        ("eyJwIjoyfQ", "telescope"),
        ("!!", "telescope"),
    ):
        with pytest.raises(InvalidArguments):
            await tools.search.handler(SearchArgs(query=query, page_size=1, cursor=cursor), ctx)


async def test_upstream_failures_are_typed_and_safe(
    admin: PaperlessClient, paperless_fake: RunningFake
) -> None:
    ctx = tool_context(admin, AGENT_VISIBLE)
    await tools.list_tags.handler(ListTagsArgs(), ctx)
    paperless_fake.fake.fault_500()
    with pytest.raises(UpstreamError) as caught:
        await tools.get_document.handler(GetArgs(document_id=1), ctx)
    assert "Server Error" not in caught.value.detail
    assert "500" in (caught.value.internal or "")


async def test_rejected_token_is_an_upstream_error(paperless_fake: RunningFake) -> None:
    http = httpx.AsyncClient(base_url=paperless_fake.url, headers={"Authorization": "Token bad"})
    ctx = tool_context(PaperlessClient(http), AGENT_VISIBLE)
    with pytest.raises(UpstreamError) as caught:
        await tools.list_tags.handler(ListTagsArgs(), ctx)
    await http.aclose()
    assert "credentials rejected" in (caught.value.internal or "")
    assert "token" not in caught.value.detail.lower()


async def test_unreachable_upstream() -> None:
    port = free_port()  # nothing listens on it
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamUnavailable):
        await tools.list_tags.handler(
            ListTagsArgs(), tool_context(PaperlessClient(http), AGENT_VISIBLE)
        )
    await http.aclose()


async def test_rule_without_scope(admin: PaperlessClient) -> None:
    with pytest.raises(Denied):
        await tools.search.handler(SearchArgs(query="telescope"), tool_context(admin, None))
    config = DocumentsConfig(require_scope=False)
    out = await tools.search.handler(
        SearchArgs(query="telescope"), tool_context(admin, None, config)
    )
    assert 8 in {hit.id for hit in out.items}  # everything the gateway's user sees


async def test_no_words_left(admin: PaperlessClient) -> None:
    for query in ("*:()", "a b c d e f g h i j k"):
        with pytest.raises(InvalidArguments):
            await tools.search.handler(SearchArgs(query=query), tool_context(admin, AGENT_VISIBLE))


def test_output_never_has_note_fields() -> None:
    for tool in tools.TOOLS:
        schema = json.dumps(tool.output_model.model_json_schema())
        assert "note" not in schema.lower()
