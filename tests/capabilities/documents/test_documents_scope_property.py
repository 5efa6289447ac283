"""Property: over generated scopes and queries (hidden tag names and query syntax included),
no document outside the scope, no note and no text beyond the limit ever leaves a tool.

The oracle is independent of the capability: it evaluates the scope on the fixture's own
names (fixture.json), not on ids resolved by the code under test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capabilities.documents import tools
from capabilities.documents.query import words
from capabilities.documents.schemas import DocumentsConfig, DocumentsScope, GetArgs, SearchArgs
from gateway.errors import InvalidArguments, NotFound, UpstreamError

from .documents_fixtures import RunningFake, paperless_client, tool_context
from .fake_paperless import FLAVOURS, HERE

FIXTURE = json.loads((HERE / "3.0.5" / "fixture.json").read_text("utf-8"))
TAGS = ["agent-visible", "finance", "astro", "medical"]
CORRESPONDENTS = [c["name"] for c in FIXTURE["correspondents"]]
TYPES = [t["name"] for t in FIXTURE["document_types"]]
NAMES = {
    kind: {o["id"]: o["name"] for o in FIXTURE[kind]}
    for kind in ("correspondents", "document_types")
}
DOCS = {d["id"]: d for d in FIXTURE["documents"]}
NOTE_WORDS = ["statins", "Private note", "retry M33", "Great seeing"]
HIDDEN = {"hermes": {"medical", "dr. smith clinic"}, "admin": set()}
VOCABULARY = [
    "telescope",
    "invoice",
    "cholesterol",
    "statins",
    "seeing",
    "medical",
    "finance",
    "astro",
    "retry",
    "statement",
    "acme",
    "the",
    "M31",
    "notes.note:statins",
    "tag:medical",
    "tag_id:4",
    "owner_id:5",
    "telesc*",
    "(",
    "NOT",
    "OR",
    '"statins',
    "-invoice",
]


def _folded(entries: Sequence[object]) -> set[str]:
    """Generated scopes name objects by name only."""
    assert all(isinstance(e, str) for e in entries)
    return {str(e).casefold() for e in entries}


def admitted(doc_id: int, scope: DocumentsScope) -> bool:
    doc = DOCS[doc_id]
    tags = {t.casefold() for t in doc["tag_names"]}
    if not _folded(scope.tags_all) <= tags:
        return False
    if scope.tags_any and not _folded(scope.tags_any) & tags:
        return False
    if _folded(scope.tags_none) & tags:
        return False
    for key, kind, field in (
        ("correspondents", "correspondents", "correspondent"),
        ("document_types", "document_types", "document_type"),
    ):
        allowed = getattr(scope, key)
        if allowed is not None:
            name = NAMES[kind].get(doc[field]) if doc[field] is not None else None
            if name is None or name.casefold() not in {a.casefold() for a in allowed}:
                return False
    created = dt.date.fromisoformat(doc["created"])
    if scope.created_from and created < scope.created_from:
        return False
    return not (scope.created_to and created > scope.created_to)


def _unnameable(doc_id: int, user: str) -> bool:
    """A document carrying a tag the user cannot list is dropped (its tags cannot be judged)."""
    return bool({t.casefold() for t in DOCS[doc_id]["tag_names"]} & HIDDEN[user])


def _subset(items: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), max_size=2, unique=True)


dates = st.none() | st.dates(dt.date(2024, 11, 1), dt.date(2025, 12, 31))


@st.composite
def scopes(draw: st.DrawFn) -> DocumentsScope:
    tags_all = draw(_subset(TAGS))
    tags_none = [t for t in draw(_subset(TAGS)) if t not in tags_all]
    start, end = sorted([draw(dates) or dt.date(2024, 1, 1), draw(dates) or dt.date(2026, 1, 1)])
    return DocumentsScope(
        tags_all=tags_all,
        tags_any=draw(_subset(TAGS)),
        tags_none=tags_none,
        correspondents=draw(st.none() | _subset(CORRESPONDENTS)),
        document_types=draw(st.none() | _subset(TYPES)),
        created_from=start if draw(st.booleans()) else None,
        created_to=end if draw(st.booleans()) else None,
        max_content_chars=draw(st.none() | st.integers(0, 3000)),
    )


def _limit(scope: DocumentsScope) -> int:
    default = DocumentsConfig().max_content_chars
    return default if scope.max_content_chars is None else min(default, scope.max_content_chars)


def _no_notes(value: Any) -> None:
    text = json.dumps(value, default=str)
    assert all(word not in text for word in NOTE_WORDS)


def _names_in(scope: DocumentsScope) -> set[str]:
    listed = [*scope.tags_all, *scope.tags_any, *scope.tags_none]
    listed += [*(scope.correspondents or []), *(scope.document_types or [])]
    return _folded(listed)


async def _check(url: str, user: str, scope: DocumentsScope, query: str, probe: int) -> None:
    client = paperless_client(url, user)
    visible = set(FIXTURE["visible_document_ids_per_user"][user])
    try:
        ctx = tool_context(client, scope)
        try:
            out = await tools.search.handler(SearchArgs(query=query), ctx)
        except UpstreamError as exc:
            assert "fail closed" in (exc.internal or "")
            assert _names_in(scope) & HIDDEN[user]  # only a name the user cannot resolve
            return
        except InvalidArguments:
            assert not words(query)
            return
        _no_notes(out.model_dump(mode="json"))
        for hit in out.items:
            assert hit.id in visible and admitted(hit.id, scope), hit.id
            assert not _unnameable(hit.id, user)
        for ident in {probe, *(hit.id for hit in out.items[:3])}:
            get_ctx = tool_context(client, scope)
            try:
                doc = await tools.get_document.handler(GetArgs(document_id=ident), get_ctx)
            except NotFound:
                assert (
                    ident not in visible
                    or not admitted(ident, scope)
                    or ident > 13
                    or _unnameable(ident, user)
                )
                continue
            assert ident in visible and admitted(ident, scope) and not _unnameable(ident, user)
            assert len(doc.content) <= _limit(scope)
            _no_notes(doc.model_dump(mode="json"))
    finally:
        await client._http.aclose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flavour=st.sampled_from(FLAVOURS),
    user=st.sampled_from(["admin", "hermes"]),
    scope=scopes(),
    query=st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3).map(" ".join),
    probe=st.integers(1, 14),
)
def test_nothing_leaves_the_scope(
    _paperless_servers: dict[str, RunningFake],
    flavour: str,
    user: str,
    scope: DocumentsScope,
    query: str,
    probe: int,
) -> None:
    asyncio.run(_check(_paperless_servers[flavour].url, user, scope, query, probe))
