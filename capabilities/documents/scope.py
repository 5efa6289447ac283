"""The policy scope, resolved to paperless ids: pushed into the query, checked on every document.

Paperless filters by id and silently ignores a filter whose value is not a list of integers
(``tags__id__none=medical`` filters nothing). So names are resolved to ids here, and a name
that does not resolve raises :class:`Unresolvable`: the call fails closed instead of running
without the filter. Each returned document is then checked again by :meth:`Filter.admits`,
by id and by name.

Names are unique upstream only per (name, owner) and case-sensitive, so a name resolves to
every case-insensitive match: an exclusion excludes them all, an inclusion that matches more
than one object raises :class:`Ambiguous` (fail closed, with a reason for the operator).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from .client import Kind, NameMap
from .schemas import ById, DocumentsScope, Entry
from .wire import WireDocument

_T = TypeVar("_T", int, str)

__all__ = ["Ambiguous", "Filter", "Names", "Unresolvable", "labels", "resolve"]


class Unresolvable(Exception):
    """A scope name that paperless does not know (or does not show to the gateway's user)."""

    def __init__(self, kind: Kind, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"scope {kind} name {name!r} does not resolve")


class Ambiguous(Unresolvable):
    """A scope name that must admit documents but matches several paperless objects."""

    def __init__(self, kind: Kind, name: str, ids: frozenset[int]) -> None:
        super().__init__(kind, name)
        self.ids = ids
        Exception.__init__(
            self,
            f"scope {kind} name {name!r} is ambiguous: ids {sorted(ids)} carry it "
            "(names are unique only per owner upstream); name the one meant as {id: N}, "
            "or rename or delete the twins",
        )


@dataclass(frozen=True, slots=True)
class Names:
    """The same conditions by case-folded name, checked with the names known at check time."""

    tags_all: frozenset[str] = frozenset()
    tags_any: frozenset[str] = frozenset()
    tags_none: frozenset[str] = frozenset()
    correspondents: frozenset[str] | None = None
    document_types: frozenset[str] | None = None

    def admits(self, doc: WireDocument, maps: dict[Kind, NameMap]) -> bool:
        tags = {maps["tags"].names[i].casefold() for i in doc.tags}
        if not self.tags_all <= tags or tags & self.tags_none:
            return False
        if self.tags_any and not tags & self.tags_any:
            return False
        return _named(self.correspondents, maps["correspondents"], doc.correspondent) and _named(
            self.document_types, maps["document_types"], doc.document_type
        )

    def narrow(self, other: Names) -> Names:
        return Names(
            tags_all=self.tags_all | other.tags_all,
            tags_any=self.tags_any or other.tags_any,
            tags_none=self.tags_none | other.tags_none,
            correspondents=_meet(self.correspondents, other.correspondents),
            document_types=_meet(self.document_types, other.document_types),
        )


@dataclass(frozen=True, slots=True)
class Filter:
    """A conjunction of conditions on a document, by id and by name. Empty sets: no condition.

    The ids are pushed into the paperless query; :meth:`admits` checks both the ids and the
    names (with the name maps current at check time), so a twin or a recreated tag that the
    ids resolved at the start of the call do not cover is still caught by its name.
    """

    tags_all: frozenset[int] = frozenset()
    tags_any: frozenset[int] = frozenset()
    tags_none: frozenset[int] = frozenset()
    #: ``None``: any correspondent (or none); a set: the document's must be in it.
    correspondents: frozenset[int] | None = None
    document_types: frozenset[int] | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    names: Names = Names()

    def admits(self, doc: WireDocument, maps: dict[Kind, NameMap]) -> bool:
        """Ids and names; the caller makes sure every id of ``doc`` is in ``maps``."""
        return self._admits_ids(doc) and self.names.admits(doc, maps)

    def _admits_ids(self, doc: WireDocument) -> bool:
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
            names=self.names.narrow(other.names),
        )

    def params(self) -> dict[str, str]:
        """The id conditions as paperless query parameters (all declared in its schema)."""
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
        if self.tags_all & self.tags_none or self.names.tags_all & self.names.tags_none:
            return True
        if self.tags_any and self.tags_any <= self.tags_none:
            return True
        return bool(self.created_from and self.created_to and self.created_from > self.created_to)


def resolve(scope: DocumentsScope, maps: dict[Kind, NameMap]) -> Filter:
    """The policy scope as ids and names; raises :class:`Unresolvable` (fail closed).

    An exclusion (``tags_none``) excludes every object carrying the name, whatever its case or
    owner. An inclusion must name exactly one object: a twin raises :class:`Ambiguous`.
    """
    tags, corrs, types = maps["tags"], maps["correspondents"], maps["document_types"]
    return Filter(
        tags_all=_one_each(tags, "tags", scope.tags_all),
        tags_any=_one_each(tags, "tags", scope.tags_any),
        tags_none=_every(tags, "tags", scope.tags_none),
        correspondents=None
        if scope.correspondents is None
        else _one_each(corrs, "correspondents", scope.correspondents),
        document_types=None
        if scope.document_types is None
        else _one_each(types, "document_types", scope.document_types),
        created_from=scope.created_from,
        created_to=scope.created_to,
        names=Names(
            tags_all=labels(scope.tags_all, tags),
            tags_any=labels(scope.tags_any, tags),
            tags_none=labels(scope.tags_none, tags),
            correspondents=None
            if scope.correspondents is None
            else labels(scope.correspondents, corrs),
            document_types=None
            if scope.document_types is None
            else labels(scope.document_types, types),
        ),
    )


def labels(entries: Iterable[Entry], names: NameMap) -> frozenset[str]:
    """The case-folded names the entries stand for (an id: its current name, if known)."""
    out = set()
    for entry in entries:
        if isinstance(entry, ById):
            if entry.id in names.names:
                out.add(names.names[entry.id].casefold())
        else:
            out.add(entry.casefold())
    return frozenset(out)


def _ids_of(names: NameMap, kind: Kind, entry: Entry) -> frozenset[int]:
    if isinstance(entry, ById):
        if entry.id not in names.names:
            raise Unresolvable(kind, f"{{id: {entry.id}}}")
        return frozenset({entry.id})
    found = names.ids_of(entry)
    if not found:
        raise Unresolvable(kind, entry)
    return found


def _named(allowed: frozenset[str] | None, names: NameMap, ident: int | None) -> bool:
    """True when there is no allow-list, or the object's name is on it (no object: not on it)."""
    if allowed is None:
        return True
    return ident is not None and names.names[ident].casefold() in allowed


def _one_each(names: NameMap, kind: Kind, wanted: Iterable[Entry]) -> frozenset[int]:
    ids: set[int] = set()
    for entry in wanted:
        found = _ids_of(names, kind, entry)
        if len(found) > 1:
            raise Ambiguous(kind, str(entry), found)
        ids |= found
    return frozenset(ids)


def _every(names: NameMap, kind: Kind, wanted: Iterable[Entry]) -> frozenset[int]:
    ids: set[int] = set()
    for entry in wanted:
        ids |= _ids_of(names, kind, entry)
    return frozenset(ids)


def _ids(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(ids))


def _meet(a: frozenset[_T] | None, b: frozenset[_T] | None) -> frozenset[_T] | None:
    if a is None:
        return b
    return a if b is None else a & b


def _latest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return b if a is None else a if b is None else min(a, b)
