"""The documents tools. Client and scope errors become gateway errors in :func:`_mapped` only.

Every tool resolves the policy scope to ids first (fail closed), pushes it into the paperless
query, and checks each returned document again; a document that fails the check is dropped,
its id noted in ``ctx.notes["scope_dropped"]`` for the audit record, and (for documents_get)
answered exactly like a document that does not exist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from gateway.capability import ToolContext, tool
from gateway.errors import (
    Denied,
    GatewayError,
    InvalidArguments,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

from .client import (
    KINDS,
    BadQuery,
    CredentialsRejected,
    InvalidPage,
    Kind,
    NameMap,
    PaperlessClient,
)
from .client import PaperlessError as ClientError
from .cursor import MAX_PAGE, Cursor, CursorError, fingerprint
from .query import build_query, clean_snippet, evidenced, normalise, words
from .schemas import (
    Document,
    DocumentsConfig,
    DocumentsScope,
    GetArgs,
    ListTagsArgs,
    SearchArgs,
    SearchHit,
    SearchResult,
    TagItem,
    TagList,
)
from .scope import Filter, Unresolvable, resolve
from .wire import WireDocument

__all__ = ["TOOLS", "get_document", "list_tags", "search"]

SEARCH_FIELDS = "id,title,created,correspondent,document_type,tags,content"
GET_FIELDS = SEARCH_FIELDS + ",page_count,mime_type"
UPSTREAM = "paperless"


class UnknownName(Exception):
    """The agent named a tag, correspondent or type it cannot use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


@contextmanager
def _mapped(upstream: str) -> Iterator[None]:
    """The one place where client, scope and transport errors become gateway errors."""
    try:
        yield
    except GatewayError:
        raise
    except UnknownName as exc:
        raise InvalidArguments(
            f"Unknown {exc.kind} name; documents_list_tags lists the usable tags."
        ) from None
    except CursorError as exc:
        raise InvalidArguments(
            "The cursor is not valid for these arguments; repeat the search without it.",
            internal=str(exc),
        ) from None
    except BadQuery as exc:
        raise InvalidArguments(
            "The search could not be run; use plain words.", internal=str(exc)
        ) from None
    except Unresolvable as exc:
        raise UpstreamError(
            upstream,
            "The document scope of the policy cannot be applied; the operator must fix it.",
            internal=f"fail closed: {exc}",
        ) from None
    except CredentialsRejected as exc:
        raise UpstreamError(upstream, internal=f"credentials rejected: {exc}") from None
    except ClientError as exc:
        raise UpstreamError(upstream, internal=str(exc)) from None
    except httpx.TimeoutException:
        raise UpstreamTimeout(upstream, internal="timeout") from None
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(upstream, internal=type(exc).__name__) from None


@tool("documents_search", title="Search documents", output=SearchResult, upstream=UPSTREAM)
async def search(args: SearchArgs, ctx: ToolContext) -> SearchResult:
    """Full-text search in the document archive, limited to what the policy allows.

    All words must match (title or text). Returns hits with title, date, correspondent,
    type, tags and a short snippet; read a document's text with documents_get.
    """
    config = _config(ctx)
    with _mapped(config.upstream):
        return await _search(args, ctx, config)


@tool("documents_get", title="Read a document", output=Document, upstream=UPSTREAM)
async def get_document(args: GetArgs, ctx: ToolContext) -> Document:
    """One document's metadata and text (truncated to the policy's limit)."""
    config = _config(ctx)
    with _mapped(config.upstream):
        return await _get(args, ctx, config)


@tool("documents_list_tags", title="List document tags", output=TagList, upstream=UPSTREAM)
async def list_tags(args: ListTagsArgs, ctx: ToolContext) -> TagList:
    """The tag names usable as filters in documents_search."""
    config = _config(ctx)
    with _mapped(config.upstream):
        scope = _scope(ctx, config)
        names = await ctx.client(PaperlessClient).names("tags", ctx.now)
        hidden = {n.casefold() for n in scope.tags_none}
        visible = {n for n in names.names.values() if n.casefold() not in hidden}
        return TagList(items=[TagItem(name=n) for n in sorted(visible, key=str.casefold)])


TOOLS = (search, get_document, list_tags)


async def _search(args: SearchArgs, ctx: ToolContext, config: DocumentsConfig) -> SearchResult:
    scope = _scope(ctx, config)
    terms = words(args.query)
    if not terms:
        raise InvalidArguments("The query needs at least one word of letters or digits.")
    if len(terms) > config.max_query_words:
        raise InvalidArguments(f"Use at most {config.max_query_words} words.")
    fp = fingerprint([terms, args.model_dump(mode="json", exclude={"cursor", "query"})])
    cursor = Cursor.decode(args.cursor, fp) if args.cursor else Cursor(1, fp)
    client = ctx.client(PaperlessClient)
    maps, allowed = await _resolved(client, scope, ctx.now)
    wanted = allowed.narrow(_agent_filter(args, maps, scope))
    if wanted.empty:
        return SearchResult(items=[])
    params = {
        "query": build_query(terms),
        "page": str(cursor.page),
        "page_size": str(args.page_size),
        "fields": SEARCH_FIELDS,
        **wanted.params(),
    }
    try:
        page = await client.documents(params)
    except InvalidPage:  # the result set shrank under the cursor
        return SearchResult(items=[])
    major = page.server_major or _guess_major(page.documents)
    best = cursor.best if cursor.page > 1 else _best(page.documents)
    snippet_limit = min(config.snippet_chars, _content_limit(config, scope))
    items: list[SearchHit] = []
    dropped: list[int] = []
    unverified: list[int] = []
    for index, doc in enumerate(page.documents):
        if not allowed.admits(doc):
            dropped.append(doc.id)
        elif wanted.admits(doc) and evidenced(terms, doc.title, doc.content or ""):
            fallback_rank = (cursor.page - 1) * args.page_size + index + 1
            items.append(_hit(doc, maps, major, best, snippet_limit, fallback_rank))
        else:
            unverified.append(doc.id)
    _note(ctx, "scope_dropped", dropped)
    _note(ctx, "match_unverified", unverified)
    more = page.has_next and cursor.page < MAX_PAGE
    next_cursor = Cursor(cursor.page + 1, fp, best if major >= 3 else None) if more else None
    return SearchResult(items=items, next_cursor=next_cursor.encode() if next_cursor else None)


async def _get(args: GetArgs, ctx: ToolContext, config: DocumentsConfig) -> Document:
    scope = _scope(ctx, config)
    client = ctx.client(PaperlessClient)
    maps, allowed = await _resolved(client, scope, ctx.now)
    if allowed.empty:
        raise NotFound()
    params = {"id__in": str(args.document_id), "page_size": "1", "fields": GET_FIELDS}
    page = await client.documents({**params, **allowed.params()})
    doc = next((d for d in page.documents if d.id == args.document_id), None)
    if doc is None:
        raise NotFound()
    if not allowed.admits(doc):
        _note(ctx, "scope_dropped", [doc.id])
        raise NotFound(internal="document outside the policy scope")
    content = doc.content or ""
    limit = _content_limit(config, scope)
    truncated = len(content) > limit
    if truncated:
        ctx.partial = True
    return Document(
        **_metadata(doc, maps),
        page_count=doc.page_count,
        mime_type=doc.mime_type,
        content=content[:limit],
        content_chars=len(content),
        content_truncated=truncated,
    )


async def _maps(client: PaperlessClient, now: dt.datetime, refresh: bool) -> dict[Kind, NameMap]:
    found = await asyncio.gather(*(client.names(k, now, refresh=refresh) for k in KINDS))
    return dict(zip(KINDS, found, strict=True))


async def _resolved(
    client: PaperlessClient, scope: DocumentsScope, now: dt.datetime
) -> tuple[dict[Kind, NameMap], Filter]:
    """Maps and the scope as ids; a name that misses the cache is looked up once more."""
    maps = await _maps(client, now, refresh=False)
    try:
        return maps, resolve(scope, maps)
    except Unresolvable:
        maps = await _maps(client, now, refresh=True)
        return maps, resolve(scope, maps)


def _agent_filter(args: SearchArgs, maps: dict[Kind, NameMap], scope: DocumentsScope) -> Filter:
    hidden = {n.casefold() for n in scope.tags_none}
    tags: set[int] = set()
    for name in args.tags:
        ident = maps["tags"].id_of(name)
        if ident is None or name.casefold() in hidden:
            raise UnknownName("tag")
        tags.add(ident)
    return Filter(
        tags_all=frozenset(tags),
        correspondents=_one(maps, "correspondents", args.correspondent, scope.correspondents),
        document_types=_one(maps, "document_types", args.document_type, scope.document_types),
        created_from=args.created_after + dt.timedelta(days=1) if args.created_after else None,
        created_to=args.created_before - dt.timedelta(days=1) if args.created_before else None,
    )


def _one(
    maps: dict[Kind, NameMap], kind: Kind, name: str | None, allowed: list[str] | None
) -> frozenset[int] | None:
    if name is None:
        return None
    ident = maps[kind].id_of(name)
    if ident is None or (allowed is not None and name.casefold() not in _folded(allowed)):
        raise UnknownName(kind.rstrip("s").replace("_", " "))
    return frozenset({ident})


def _hit(
    doc: WireDocument,
    maps: dict[Kind, NameMap],
    major: int,
    best: float | None,
    snippet_limit: int,
    fallback_rank: int,
) -> SearchHit:
    hit = doc.hit
    score, rank = normalise(hit.score if hit else None, hit.rank if hit else None, major, best)
    return SearchHit(
        **_metadata(doc, maps),
        snippet=clean_snippet(hit.highlights if hit else None, snippet_limit),
        score=score,
        rank=rank if rank is not None and rank >= 1 else fallback_rank,
    )


def _config(ctx: ToolContext) -> DocumentsConfig:
    if not isinstance(ctx.config, DocumentsConfig):
        raise TypeError("documents tools need a DocumentsConfig")
    return ctx.config


def _scope(ctx: ToolContext, config: DocumentsConfig) -> DocumentsScope:
    if isinstance(ctx.scope, DocumentsScope):
        return ctx.scope
    if ctx.scope is None and not config.require_scope:
        return DocumentsScope()
    raise Denied(internal="documents: the matching rule sets no scope and require_scope is on")


def _content_limit(config: DocumentsConfig, scope: DocumentsScope) -> int:
    if scope.max_content_chars is None:
        return config.max_content_chars
    return min(config.max_content_chars, scope.max_content_chars)


def _best(docs: list[WireDocument]) -> float | None:
    scores = [d.hit.score for d in docs if d.hit is not None and d.hit.score is not None]
    return max(scores, default=None)


def _guess_major(docs: list[WireDocument]) -> int:
    """Without ``X-Version``: 2.x ranks from 0 and scores at most 1.0; 3.x does neither."""
    hits = [d.hit for d in docs if d.hit is not None]
    if any(h.rank == 0 for h in hits):
        return 2
    return 3 if any((h.score or 0) > 1.0 for h in hits) else 2


def _metadata(doc: WireDocument, maps: dict[Kind, NameMap]) -> dict[str, Any]:
    """What a hit and a document share: ids resolved to the names the agent sees."""
    return {
        "id": doc.id,
        "title": doc.title,
        "created": doc.created,
        "correspondent": _name(maps["correspondents"], doc.correspondent),
        "document_type": _name(maps["document_types"], doc.document_type),
        "tags": _tag_names(maps["tags"], doc.tags),
    }


def _name(names: NameMap, ident: int | None) -> str | None:
    return None if ident is None else names.names.get(ident)


def _tag_names(names: NameMap, ids: list[int]) -> list[str]:
    return sorted((names.names[i] for i in set(ids) if i in names.names), key=str.casefold)


def _folded(names: list[str]) -> set[str]:
    return {n.casefold() for n in names}


def _note(ctx: ToolContext, key: str, ids: list[int]) -> None:
    if ids:
        ctx.notes[key] = sorted(set(ctx.notes.get(key, [])) | set(ids))
