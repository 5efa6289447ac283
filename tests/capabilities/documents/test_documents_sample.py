"""Demo mode: the real client over the sample archive, no network."""

from __future__ import annotations

import httpx

from capabilities.documents import CAPABILITY, sample, tools
from capabilities.documents.client import PaperlessClient
from capabilities.documents.schemas import (
    DocumentsConfig,
    DocumentsScope,
    GetArgs,
    ListTagsArgs,
    SearchArgs,
)
from gateway.capability import SampleClients, SetupContext
from gateway.errors import NotFound

from .documents_fixtures import tool_context

SCOPE = DocumentsScope(tags_all=["agent-visible"], tags_none=["medical", "finance"])


def _no_network(name: str) -> httpx.AsyncClient:
    raise AssertionError("sample mode must not build an upstream client")


async def test_sample_mode_serves_the_tools() -> None:
    samples = SampleClients()  # what the gateway hands over, and closes
    resources = await CAPABILITY.setup(
        SetupContext(DocumentsConfig(), True, _no_network, sample_http=samples)
    )
    client = resources.clients[PaperlessClient]
    try:
        out = await tools.search.handler(SearchArgs(query="telescope"), tool_context(client, SCOPE))
        assert [hit.id for hit in out.items] == [3]
        assert out.items[0].snippet and "<" not in out.items[0].snippet
        ctx = tool_context(client, SCOPE)
        doc = await tools.get_document.handler(GetArgs(document_id=4), ctx)
        assert doc.content_truncated and ctx.partial
        for hidden in (5, 2):  # medical; finance
            try:
                await tools.get_document.handler(GetArgs(document_id=hidden), ctx)
            except NotFound:
                continue
            raise AssertionError(f"document {hidden} left the scope")
        tags = await tools.list_tags.handler(ListTagsArgs(), ctx)
        assert [t.name for t in tags.items] == ["agent-visible", "astro", "homelab"]
        ctx = tool_context(client, DocumentsScope(tags_all=["agent-visible"]))
        out = await tools.search.handler(SearchArgs(query="prescription"), ctx)
        assert out.items == [] and ctx.notes == {}  # only a note has the word: not even asked
    finally:
        await samples.aclose()


def test_sample_archive_is_paperless_shaped() -> None:
    archive = sample.load_archive()
    assert {"tags", "correspondents", "document_types", "documents"} <= set(archive)
    for doc in archive["documents"]:
        assert {"id", "title", "content", "tags", "created", "notes", "owner"} <= set(doc)
