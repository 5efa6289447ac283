"""Proposals to change a document's metadata (tags, title, correspondent, type), and their
application once a human approved them.

Nothing here writes at proposal time. ``documents_propose_metadata`` checks the request against
the rule's ``propose`` bounds, reads the document through the read scope (a document the agent
cannot read cannot be proposed for), resolves names to ids (a name several objects carry is
refused, never guessed) and hands labgate a draft whose payload holds ids *and* names.

:func:`apply_metadata` runs after approval with the scope of the rule in force then: bounds and
scope are checked again, every stored id must still carry its stored name, and only then is the
document patched with the write token. The tag list sent is the document's current tags minus
the removed ids plus the added ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from gateway.capability import (
    ApplyContext,
    ApplyRefused,
    Draft,
    FieldChange,
    tool,
)
from gateway.errors import Denied, InvalidArguments, NotFound, Unavailable

from .client import Kind, NameMap, PaperlessClient, PaperlessWriter
from .schemas import (
    ChangeLine,
    DocumentsConfig,
    DocumentsScope,
    ProposalStatus,
    ProposalTicket,
    ProposeArgs,
    ProposeBounds,
    StatusArgs,
)
from .scope import labels
from .tools import GET_FIELDS, UPSTREAM, Ctx, UnknownName, _checked, _mapped, _resolved, _scope
from .wire import WireDocument

__all__ = ["apply_metadata", "proposal_status", "propose_metadata"]

PROPOSE = "documents_propose_metadata"
Ref = tuple[int, str]


@dataclass(frozen=True, slots=True)
class _Wanted:
    """What the agent asked for, by name."""

    document_id: int
    add_tags: tuple[str, ...]
    remove_tags: tuple[str, ...]
    title: str | None
    correspondent: str | None
    document_type: str | None

    @classmethod
    def of(cls, args: ProposeArgs) -> _Wanted:
        return cls(
            args.document_id,
            tuple(args.add_tags),
            tuple(args.remove_tags),
            args.title,
            args.correspondent,
            args.document_type,
        )


@tool(
    PROPOSE,
    title="Propose document metadata",
    output=ProposalTicket,
    upstream=UPSTREAM,
    proposes=True,
)
async def propose_metadata(args: ProposeArgs, ctx: Ctx) -> ProposalTicket:
    """Propose tags to add or remove, a title, a correspondent or a document type for one
    document. Nothing is written now: a human approves or denies the proposal; follow it
    with documents_proposal_status."""
    config = ctx.config
    if ctx.proposals is None or config.write_upstream is None:
        raise Unavailable("Proposals cannot be applied here; the operator has not set them up.")
    with _mapped(config.upstream):
        scope = _scope(ctx, config)
        bounds = _bounds(scope)
        wanted = _Wanted.of(args)
        _check_bounds(wanted, bounds)
        doc, maps = await _load(ctx.client(PaperlessClient), scope, ctx, args.document_id)
        payload, changes = _plan(wanted, doc, maps, scope)
    draft = Draft(
        target=f"document {doc.id}",
        title=doc.title,
        changes=changes,
        payload=payload,
        reason=args.reason,
    )
    ticket = await ctx.proposals.submit(ctx, PROPOSE, args, draft)
    return ProposalTicket(proposal_id=ticket.proposal_id, expires_at=ticket.expires_at)


@tool("documents_proposal_status", title="Follow a proposal", output=ProposalStatus)
async def proposal_status(args: StatusArgs, ctx: Ctx) -> ProposalStatus:
    """The state of one of your proposals: pending, approved, applied, failed, denied or
    expired, with what was applied."""
    if ctx.proposals is None:
        raise NotFound()
    state = await ctx.proposals.status(ctx, args.proposal_id)
    applied = state.applied.get("changes") if state.applied else None
    return ProposalStatus(
        proposal_id=state.proposal_id,
        status=state.status,
        document_id=int(state.target.rsplit(" ", 1)[-1]),
        changes=[
            ChangeLine(field=c.field, current=c.current, proposed=c.proposed) for c in state.changes
        ],
        created_at=state.created_at,
        expires_at=state.expires_at,
        decided_at=state.decided_at,
        applied=[ChangeLine(**c) for c in applied] if isinstance(applied, list) else None,
        error=state.error,
    )


#: What the documents applier gets: its config and the allowing rule's scope, typed.
ApplyCtx = ApplyContext[DocumentsConfig, DocumentsScope]


async def apply_metadata(payload: Mapping[str, Any], ctx: ApplyCtx) -> Mapping[str, Any]:
    """Write an approved proposal, after checking scope, bounds and names again."""
    config = ctx.config
    if ctx.scope is None and config.require_scope:
        raise ApplyRefused("scope-violation", "the allowing rule sets no documents scope")
    scope = ctx.scope if ctx.scope is not None else DocumentsScope()
    try:
        writer = ctx.client(PaperlessWriter)
    except LookupError:
        raise ApplyRefused("not-configured", "no write upstream is configured") from None
    stored = _Stored.of(payload)
    with _mapped(config.upstream):
        try:
            _check_bounds(stored.wanted, _bounds(scope))
        except (Denied, InvalidArguments) as exc:
            raise ApplyRefused("bounds-changed", exc.detail) from None
        try:
            doc, maps = await _load(ctx.client(PaperlessClient), scope, ctx, stored.document_id)
        except NotFound:
            raise ApplyRefused("scope-violation", "the document is outside the scope") from None
        stored.check_names(maps, scope)
    tags = [t for t in doc.tags if t not in {i for i, _ in stored.remove_tags}]
    tags += [i for i, _ in stored.add_tags if i not in tags]
    body: dict[str, Any] = {}
    if tags != doc.tags:
        body["tags"] = tags
    if stored.title is not None and stored.title != doc.title:
        body["title"] = stored.title
    for key, ref in (
        ("correspondent", stored.correspondent),
        ("document_type", stored.document_type),
    ):
        if ref is not None and getattr(doc, key) != ref[0]:
            body[key] = ref[0]
    if not body:
        return {"changes": [], "document_id": doc.id}
    with _mapped(config.write_upstream or config.upstream):
        after = await writer.patch_document(doc.id, body)
    ctx.notes["written_fields"] = sorted(body)
    return {"document_id": doc.id, "changes": _applied(doc, after, maps)}


TOOLS = (propose_metadata, proposal_status)
APPLIERS = {PROPOSE: apply_metadata}


def _bounds(scope: DocumentsScope) -> ProposeBounds:
    if scope.propose is None:
        raise Denied("The policy allows no metadata proposals here.")
    return scope.propose


def _allowed(name: str, globs: list[str]) -> bool:
    folded = name.casefold()
    return any(fnmatchcase(folded, g.casefold()) for g in globs)


def _check_bounds(w: _Wanted, bounds: ProposeBounds) -> None:
    for name in w.add_tags:
        if not _allowed(name, bounds.add_tags):
            allowed = ", ".join(bounds.add_tags) or "none"
            raise InvalidArguments(f"Tag {name!r} may not be added; tags you may add: {allowed}.")
    for name in w.remove_tags:
        if not _allowed(name, bounds.remove_tags):
            allowed = ", ".join(bounds.remove_tags) or "none"
            raise InvalidArguments(
                f"Tag {name!r} may not be removed; tags you may remove: {allowed}."
            )
    for field in ("title", "correspondent", "document_type"):
        if getattr(w, field) is not None and field not in bounds.fields:
            allowed = ", ".join(bounds.fields) or "none besides tags"
            raise InvalidArguments(f"You may not set {field}; fields you may set: {allowed}.")
    if not (w.add_tags or w.remove_tags or w.title or w.correspondent or w.document_type):
        raise InvalidArguments("Propose at least one change.")


async def _load(
    client: PaperlessClient, scope: DocumentsScope, ctx: Ctx | ApplyCtx, ident: int
) -> tuple[WireDocument, dict[Kind, NameMap]]:
    """The document as the read scope admits it (else NotFound), with the name maps."""
    maps, allowed = await _resolved(client, scope, ctx.now)
    if allowed.empty:
        raise NotFound()
    params = {"id__in": str(ident), "page_size": "1", "fields": GET_FIELDS}
    page = await client.documents({**params, **allowed.params()})
    found = [d for d in page.documents if d.id == ident]
    checked = await _checked(client, scope, ctx, found, maps, allowed)
    if not checked.docs:
        raise NotFound(internal="document missing, unknown ids or outside the policy scope")
    return checked.docs[0], checked.maps


def _only(
    maps: dict[Kind, NameMap], kind: Kind, name: str, allowed: frozenset[str] | set[str] | None
) -> Ref:
    ids = maps[kind].ids_of(name)
    label = kind.rstrip("s").replace("_", " ")
    if not ids or (allowed is not None and name.casefold() not in allowed):
        raise UnknownName(label)
    if len(ids) > 1:
        raise InvalidArguments(f"Several objects are named {name!r}; ask the operator to rename.")
    ident = next(iter(ids))
    return ident, maps[kind].names[ident]


def _plan(
    w: _Wanted, doc: WireDocument, maps: dict[Kind, NameMap], scope: DocumentsScope
) -> tuple[dict[str, Any], tuple[FieldChange, ...]]:
    tag_names = maps["tags"].names
    hidden = labels(scope.tags_none, maps["tags"])
    add: list[Ref] = []
    for name in w.add_tags:
        if name.casefold() in hidden:
            raise UnknownName("tag")
        tag = _only(maps, "tags", name, None)
        if tag[0] not in doc.tags and tag not in add:
            add.append(tag)
    remove: list[Ref] = []
    for name in w.remove_tags:
        on_doc = [(i, tag_names[i]) for i in doc.tags if i in maps["tags"].ids_of(name)]
        if not on_doc:
            raise InvalidArguments(f"The document does not carry the tag {name!r}.")
        remove.extend(r for r in on_doc if r not in remove)
    if {i for i, _ in add} & {i for i, _ in remove}:
        raise InvalidArguments("A tag cannot be both added and removed.")
    corr = _field_ref(maps, "correspondents", w.correspondent, scope.correspondents)
    dtype = _field_ref(maps, "document_types", w.document_type, scope.document_types)
    changes: list[FieldChange] = []
    if add or remove:
        before = [tag_names[i] for i in doc.tags]
        after = [n for i, n in zip(doc.tags, before, strict=True) if i not in dict(remove)]
        after += [n for _, n in add]
        changes.append(FieldChange("tags", _join(before), _join(after)))
    title = w.title if w.title is not None and w.title != doc.title else None
    if title is not None:
        changes.append(FieldChange("title", doc.title, title))
    fields: tuple[tuple[str, Ref | None, Kind], ...] = (
        ("correspondent", corr, "correspondents"),
        ("document_type", dtype, "document_types"),
    )
    for key, ref, kind in fields:
        current: int | None = getattr(doc, key)
        if ref is not None and ref[0] != current:
            old = maps[kind].names.get(current, "") if current is not None else ""
            changes.append(FieldChange(key, old or "(none)", ref[1]))
    if not changes:
        raise InvalidArguments("Nothing would change: the document already looks like that.")
    payload = {
        "document_id": doc.id,
        "add_tags": [list(r) for r in add],
        "remove_tags": [list(r) for r in remove],
        "title": title,
        "correspondent": list(corr) if corr and corr[0] != doc.correspondent else None,
        "document_type": list(dtype) if dtype and dtype[0] != doc.document_type else None,
    }
    return payload, tuple(changes)


def _field_ref(
    maps: dict[Kind, NameMap], kind: Kind, name: str | None, allowed: list[Any] | None
) -> Ref | None:
    if name is None:
        return None
    return _only(maps, kind, name, labels(allowed, maps[kind]) if allowed is not None else None)


def _join(names: list[str]) -> str:
    return ", ".join(sorted(names, key=str.casefold)) or "(none)"


@dataclass(frozen=True, slots=True)
class _Stored:
    """A stored payload, read back."""

    document_id: int
    add_tags: tuple[Ref, ...]
    remove_tags: tuple[Ref, ...]
    title: str | None
    correspondent: Ref | None
    document_type: Ref | None

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> _Stored:
        def ref(value: Any) -> Ref | None:
            return None if value is None else (int(value[0]), str(value[1]))

        return cls(
            int(p["document_id"]),
            tuple((int(i), str(n)) for i, n in p.get("add_tags", [])),
            tuple((int(i), str(n)) for i, n in p.get("remove_tags", [])),
            p.get("title"),
            ref(p.get("correspondent")),
            ref(p.get("document_type")),
        )

    @property
    def wanted(self) -> _Wanted:
        return _Wanted(
            self.document_id,
            tuple(n for _, n in self.add_tags),
            tuple(n for _, n in self.remove_tags),
            self.title,
            self.correspondent[1] if self.correspondent else None,
            self.document_type[1] if self.document_type else None,
        )

    def check_names(self, maps: dict[Kind, NameMap], scope: DocumentsScope) -> None:
        """Every stored id still carries its stored name, and is still admitted."""
        hidden = labels(scope.tags_none, maps["tags"])
        for ident, name in self.add_tags:
            if maps["tags"].names.get(ident) != name or name.casefold() in hidden:
                raise ApplyRefused("names-changed", f"tag {ident} is no longer {name!r}")
        checks: tuple[tuple[Kind, Ref | None, list[Any] | None], ...] = (
            ("correspondents", self.correspondent, scope.correspondents),
            ("document_types", self.document_type, scope.document_types),
        )
        for k, ref, allowed in checks:
            if ref is None:
                continue
            if maps[k].names.get(ref[0]) != ref[1]:
                raise ApplyRefused("names-changed", f"{k} {ref[0]} is no longer {ref[1]!r}")
            if allowed is not None and ref[1].casefold() not in labels(allowed, maps[k]):
                raise ApplyRefused("scope-violation", f"{ref[1]!r} is outside the scope")


def _applied(
    before: WireDocument, after: WireDocument, maps: dict[Kind, NameMap]
) -> list[dict[str, str]]:
    names = maps["tags"].names
    out = []
    if sorted(before.tags) != sorted(after.tags):
        out.append(
            {
                "field": "tags",
                "current": _join([names.get(i, f"#{i}") for i in before.tags]),
                "proposed": _join([names.get(i, f"#{i}") for i in after.tags]),
            }
        )
    if before.title != after.title:
        out.append({"field": "title", "current": before.title, "proposed": after.title})
    pairs: tuple[tuple[str, Kind], ...] = (
        ("correspondent", "correspondents"),
        ("document_type", "document_types"),
    )
    for key, kind in pairs:
        old, new = getattr(before, key), getattr(after, key)
        if old != new:
            m = maps[kind].names
            out.append(
                {
                    "field": key,
                    "current": m.get(old, "(none)") if old else "(none)",
                    "proposed": m.get(new, "(none)") if new else "(none)",
                }
            )
    return out
