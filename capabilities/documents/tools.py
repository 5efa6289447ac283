"""The documents tools. Client and scope errors become gateway errors in :func:`_mapped` only.

Every tool resolves the policy scope to ids first (fail closed), pushes it into the paperless
query, and checks each returned document again; a document that fails the check is dropped,
its id noted in ``ctx.notes["scope_dropped"]`` for the audit record, and (for documents_get)
answered exactly like a document that does not exist. A document carrying an id the name maps
do not know makes them be fetched again; one still unknown is dropped (``unknown_ids``).

documents_search reads all upstream hits (up to :data:`SCAN_LIMIT`) and ranks, scores, pages
and quotes them itself, from readable text only (``query.Readable``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.capability import ApplyContext, ToolContext, tool
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
from .cursor import BAD_CURSOR, MAX_OFFSET, Cursor, CursorError, fingerprint
from .query import Readable, build_query, words
from .schemas import (
    Document,
    DocumentsConfig,
    DocumentsScope,
    Entry,
    GetArgs,
    ListTagsArgs,
    SearchArgs,
    SearchHit,
    SearchResult,
    TagItem,
    TagList,
)
from .scope import Filter, Names, Unresolvable, labels, resolve
from .wire import WireDocument

__all__ = ["TOOLS", "get_document", "list_tags", "search"]

SEARCH_FIELDS = "id,title,created,correspondent,document_type,tags,content"
GET_FIELDS = SEARCH_FIELDS + ",page_count,mime_type"
UPSTREAM = "paperless"
#: Upstream hits read per search call (all ranked locally), and per upstream page.
SCAN_LIMIT = 200
SCAN_PAGE = 50


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
        raise InvalidArguments(BAD_CURSOR, internal=str(exc)) from None
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


#: What a documents tool gets: its config and its rule's scope, typed.
Ctx = ToolContext[DocumentsConfig, DocumentsScope]


@tool("documents_search", title="Search documents", output=SearchResult, upstream=UPSTREAM)
async def search(args: SearchArgs, ctx: Ctx) -> SearchResult:
    """Full-text search in the document archive, limited to what the policy allows.

    All words must match (title or text). Returns hits with title, date, correspondent,
    type, tags and a short snippet; read a document's text with documents_get.
    """
    config = ctx.config
    with _mapped(config.upstream):
        return await _search(args, ctx, config)


@tool("documents_get", title="Read a document", output=Document, upstream=UPSTREAM)
async def get_document(args: GetArgs, ctx: Ctx) -> Document:
    """One document's metadata and text (truncated to the policy's limit)."""
    config = ctx.config
    with _mapped(config.upstream):
        return await _get(args, ctx, config)


@tool("documents_list_tags", title="List document tags", output=TagList, upstream=UPSTREAM)
async def list_tags(args: ListTagsArgs, ctx: Ctx) -> TagList:
    """The tag names usable as filters in documents_search."""
    config = ctx.config
    with _mapped(config.upstream):
        scope = _scope(ctx, config)
        names = await ctx.client(PaperlessClient).names("tags", ctx.now)
        hidden = labels(scope.tags_none, names)
        visible = {n for n in names.names.values() if n.casefold() not in hidden}
        return TagList(items=[TagItem(name=n) for n in sorted(visible, key=str.casefold)])


TOOLS = (search, get_document, list_tags)


async def _search(args: SearchArgs, ctx: Ctx, config: DocumentsConfig) -> SearchResult:
    scope = _scope(ctx, config)
    terms = words(args.query)
    if not terms:
        raise InvalidArguments(
            "The query needs at least one word of two or more letters or digits "
            "that is not a stop word."
        )
    if len(terms) > config.max_query_words:
        raise InvalidArguments(f"Use at most {config.max_query_words} words.")
    fp = fingerprint([terms, args.model_dump(mode="json", exclude={"cursor", "query"})])
    cursor = Cursor.decode(ctx, args.cursor, fp) if args.cursor else Cursor(0, fp)
    client = ctx.client(PaperlessClient)
    maps, allowed = await _resolved(client, scope, ctx.now)
    wanted = allowed.narrow(_agent_filter(args, maps, scope))
    if wanted.empty:
        return SearchResult(items=[])
    docs, truncated = await _scan(client, {"query": build_query(terms), **wanted.params()})
    checked = await _checked(client, scope, ctx, docs, maps, allowed)
    wanted = checked.allowed.narrow(_agent_filter(args, checked.maps, scope))
    limit = _content_limit(config, scope)
    found = [
        (doc, readable)
        for doc in checked.docs
        if wanted.admits(doc, checked.maps)
        and (readable := Readable.of(doc.title, doc.content, limit)).matches(terms)
    ]
    kept = {doc.id for doc, _ in found}
    _note(ctx, "match_unverified", [d.id for d in checked.docs if d.id not in kept])
    snippet_limit = min(config.snippet_chars, limit)
    return _page(ctx, found, terms, args, cursor, checked.maps, snippet_limit, truncated)


async def _scan(client: PaperlessClient, params: dict[str, str]) -> tuple[list[WireDocument], bool]:
    """Every upstream hit, up to :data:`SCAN_LIMIT`; True when there were more."""
    docs: list[WireDocument] = []
    for number in range(1, SCAN_LIMIT // SCAN_PAGE + 1):
        page_params = {**params, "page": str(number), "page_size": str(SCAN_PAGE)}
        try:
            page = await client.documents({**page_params, "fields": SEARCH_FIELDS})
        except InvalidPage:  # the result set shrank between two pages
            return docs, False
        docs.extend(page.documents)
        if not page.has_next:
            return docs, False
    return docs, True


def _page(
    ctx: Ctx,
    found: list[tuple[WireDocument, Readable]],
    terms: list[str],
    args: SearchArgs,
    cursor: Cursor,
    maps: dict[Kind, NameMap],
    snippet_limit: int,
    truncated: bool,
) -> SearchResult:
    """One page of the verified hits, ranked and scored on readable text only."""
    scored = sorted(
        ((readable.score(terms), doc, readable) for doc, readable in found),
        key=lambda item: (-item[0], -item[1].created.toordinal(), item[1].id),
    )
    best = max((score for score, _, _ in scored), default=0)
    start = cursor.offset
    chunk = scored[start : start + args.page_size]
    items = [
        SearchHit(
            **_metadata(doc, maps),
            snippet=readable.snippet(terms, snippet_limit),
            score=round(score / best, 4) if best else 0.0,
            rank=start + index + 1,
        )
        for index, (score, doc, readable) in enumerate(chunk)
    ]
    end = start + len(chunk)
    more = end < len(scored) and end < MAX_OFFSET
    next_cursor = Cursor(end, cursor.fp).encode(ctx) if more else None
    return SearchResult(items=items, next_cursor=next_cursor, partial=truncated)


async def _get(args: GetArgs, ctx: Ctx, config: DocumentsConfig) -> Document:
    scope = _scope(ctx, config)
    client = ctx.client(PaperlessClient)
    maps, allowed = await _resolved(client, scope, ctx.now)
    if allowed.empty:
        raise NotFound()
    params = {"id__in": str(args.document_id), "page_size": "1", "fields": GET_FIELDS}
    page = await client.documents({**params, **allowed.params()})
    found = [d for d in page.documents if d.id == args.document_id]
    checked = await _checked(client, scope, ctx, found, maps, allowed)
    if not checked.docs:
        raise NotFound(internal="document missing, unknown ids or outside the policy scope")
    doc = checked.docs[0]
    content = doc.content or ""
    limit = _content_limit(config, scope)
    truncated = len(content) > limit
    if truncated:
        ctx.partial = True
    return Document(
        **_metadata(doc, checked.maps),
        page_count=doc.page_count,
        mime_type=doc.mime_type,
        content=content[:limit],
        content_chars=len(content),
        content_truncated=truncated,
    )


@dataclass(frozen=True, slots=True)
class _Checked:
    """Documents that pass the scope, with the maps and scope filter that judged them."""

    docs: list[WireDocument]
    maps: dict[Kind, NameMap]
    allowed: Filter


async def _checked(
    client: PaperlessClient,
    scope: DocumentsScope,
    ctx: Ctx | ApplyContext,
    docs: list[WireDocument],
    maps: dict[Kind, NameMap],
    allowed: Filter,
) -> _Checked:
    """The scope check of returned documents, by id and name.

    A document carrying an id the maps do not know (a tag created or recreated since they
    were fetched, or one the gateway's user cannot list) makes the maps be fetched again and
    the scope resolved again; a document whose ids are still unknown is dropped.
    """
    if not all(_known(doc, maps) for doc in docs):
        maps = await _maps(client, ctx.now, refresh=True)
        allowed = resolve(scope, maps)
    unknown = [d.id for d in docs if not _known(d, maps)]
    known = [d for d in docs if _known(d, maps)]
    kept = [d for d in known if allowed.admits(d, maps)]
    _note(ctx, "unknown_ids", unknown)
    _note(ctx, "scope_dropped", [d.id for d in known if d not in kept])
    return _Checked(kept, maps, allowed)


def _known(doc: WireDocument, maps: dict[Kind, NameMap]) -> bool:
    return (
        maps["tags"].knows(doc.tags)
        and (doc.correspondent is None or maps["correspondents"].knows([doc.correspondent]))
        and (doc.document_type is None or maps["document_types"].knows([doc.document_type]))
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
    """The agent's own filters. A name may match several objects: all of them count (by name)."""
    hidden = labels(scope.tags_none, maps["tags"])
    single: set[int] = set()
    for name in args.tags:
        ids = maps["tags"].ids_of(name)
        if not ids or name.casefold() in hidden:
            raise UnknownName("tag")
        if len(ids) == 1:
            single |= ids
    correspondents = _one(maps, "correspondents", args.correspondent, scope.correspondents)
    types = _one(maps, "document_types", args.document_type, scope.document_types)
    return Filter(
        tags_all=frozenset(single),
        correspondents=correspondents,
        document_types=types,
        created_from=args.created_after + dt.timedelta(days=1) if args.created_after else None,
        created_to=args.created_before - dt.timedelta(days=1) if args.created_before else None,
        names=Names(
            tags_all=_folded(args.tags),
            correspondents=None if args.correspondent is None else _folded([args.correspondent]),
            document_types=None if args.document_type is None else _folded([args.document_type]),
        ),
    )


def _one(
    maps: dict[Kind, NameMap], kind: Kind, name: str | None, allowed: list[Entry] | None
) -> frozenset[int] | None:
    if name is None:
        return None
    ids = maps[kind].ids_of(name)
    if not ids or (allowed is not None and name.casefold() not in labels(allowed, maps[kind])):
        raise UnknownName(kind.rstrip("s").replace("_", " "))
    return ids


def _scope(ctx: Ctx, config: DocumentsConfig) -> DocumentsScope:
    if ctx.scope is not None:
        return ctx.scope
    if not config.require_scope:
        return DocumentsScope()
    raise Denied(internal="documents: the matching rule sets no scope and require_scope is on")


def _content_limit(config: DocumentsConfig, scope: DocumentsScope) -> int:
    if scope.max_content_chars is None:
        return config.max_content_chars
    return min(config.max_content_chars, scope.max_content_chars)


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


def _folded(names: list[str]) -> frozenset[str]:
    return frozenset(n.casefold() for n in names)


def _note(ctx: Ctx | ApplyContext, key: str, ids: list[int]) -> None:
    if ids:
        ctx.notes[key] = sorted(set(ctx.notes.get(key, [])) | set(ids))
