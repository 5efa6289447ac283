"""The policy scope, resolved to paperless ids: pushed into the query, checked on every document.

Paperless filters by id and silently ignores a filter whose value is not a list of integers
(``tags__id__none=medical`` filters nothing). So names are resolved to ids here, and a name
that does not resolve raises :class:`Unresolvable`: the call fails closed instead of running
without the filter. Each returned document is then checked again by :meth:`Filter.admits`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .client import Kind, NameMap
from .schemas import DocumentsScope
from .wire import WireDocument

__all__ = ["Filter", "Unresolvable", "resolve"]


class Unresolvable(Exception):
    """A scope name that paperless does not know (or does not show to the gateway's user)."""

    def __init__(self, kind: Kind, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"scope {kind} name {name!r} does not resolve")


@dataclass(frozen=True, slots=True)
class Filter:
    """A conjunction of conditions on a document, all by id. Empty sets mean "no condition"."""

    tags_all: frozenset[int] = frozenset()
    tags_any: frozenset[int] = frozenset()
    tags_none: frozenset[int] = frozenset()
    #: ``None``: any correspondent (or none); a set: the document's must be in it.
    correspondents: frozenset[int] | None = None
    document_types: frozenset[int] | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None

    def admits(self, doc: WireDocument) -> bool:
        tags = set(doc.tags)
        if not self.tags_all <= tags or tags & self.tags_none:
            return False
        if self.tags_any and not tags & self.tags_any:
            return False
        if self.correspondents is not None and doc.correspondent not in self.correspondents:
            return False
        if self.document_types is not None and doc.document_type not in self.document_types:
            return False
        if self.created_from is not None and doc.created < self.created_from:
            return False
        return self.created_to is None or doc.created <= self.created_to

    def narrow(self, other: Filter) -> Filter:
        """Both filters at once (used to add the agent's own filters to the scope)."""
        if self.tags_any and other.tags_any:
            raise ValueError("two tags_any groups cannot be combined into one filter")
        return Filter(
            tags_all=self.tags_all | other.tags_all,
            tags_any=self.tags_any or other.tags_any,
            tags_none=self.tags_none | other.tags_none,
            correspondents=_meet(self.correspondents, other.correspondents),
            document_types=_meet(self.document_types, other.document_types),
            created_from=_latest(self.created_from, other.created_from),
            created_to=_earliest(self.created_to, other.created_to),
        )

    def params(self) -> dict[str, str]:
        """The same conditions as paperless query parameters (all declared in its schema)."""
        out: dict[str, str] = {}
        for key, tags in (
            ("tags__id__all", self.tags_all),
            ("tags__id__in", self.tags_any),
            ("tags__id__none", self.tags_none),
        ):
            if tags:
                out[key] = _ids(tags)
        for key, allowed in (
            ("correspondent__id__in", self.correspondents),
            ("document_type__id__in", self.document_types),
        ):
            if allowed is not None:
                out[key] = _ids(allowed) if allowed else "0"  # empty allow-list: nothing
        if self.created_from is not None:
            out["created__date__gte"] = self.created_from.isoformat()
        if self.created_to is not None:
            out["created__date__lte"] = self.created_to.isoformat()
        return out

    @property
    def empty(self) -> bool:
        """True when the filter can admit no document at all."""
        if self.correspondents == frozenset() or self.document_types == frozenset():
            return True
        if self.tags_all & self.tags_none:
            return True
        if self.tags_any and self.tags_any <= self.tags_none:
            return True
        return bool(self.created_from and self.created_to and self.created_from > self.created_to)


def resolve(scope: DocumentsScope, maps: dict[Kind, NameMap]) -> Filter:
    """Turn the policy scope into ids; raises :class:`Unresolvable` on any unknown name."""
    return Filter(
        tags_all=_resolve(maps["tags"], "tags", scope.tags_all),
        tags_any=_resolve(maps["tags"], "tags", scope.tags_any),
        tags_none=_resolve(maps["tags"], "tags", scope.tags_none),
        correspondents=None
        if scope.correspondents is None
        else _resolve(maps["correspondents"], "correspondents", scope.correspondents),
        document_types=None
        if scope.document_types is None
        else _resolve(maps["document_types"], "document_types", scope.document_types),
        created_from=scope.created_from,
        created_to=scope.created_to,
    )


def _resolve(names: NameMap, kind: Kind, wanted: Iterable[str]) -> frozenset[int]:
    ids: set[int] = set()
    for name in wanted:
        ident = names.id_of(name)
        if ident is None:
            raise Unresolvable(kind, name)
        ids.add(ident)
    return frozenset(ids)


def _ids(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(ids))


def _meet(a: frozenset[int] | None, b: frozenset[int] | None) -> frozenset[int] | None:
    if a is None:
        return b
    return a if b is None else a & b


def _latest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return b if a is None else a if b is None else min(a, b)
