"""The policy scope of the health capability: which monitors are visible, what is hidden.

* Visibility: every scope key that is set must match (AND); inside a key any glob may match.
  Globs are case-insensitive (``fnmatch``). A key that needs data the sources do not give
  matches nothing, exclusions included: under ``tags`` or ``exclude_tags`` a monitor whose
  tags are unknown (on no status page that shows tags; ``/metrics`` tag labels are never
  complete) is hidden, and ``groups`` without status pages match nothing. Inclusion needs
  the status page's tag list; exclusion also takes any tag ``/metrics`` reports.
* Redaction: credentials never leave (user info, query and fragment of URLs, ``user:pass@``
  in text, each password a monitor URL carries). Unless ``show_addresses``, URLs,
  hostnames and ports are dropped from records, and any text from the upstream (names,
  tags, groups, incident text) has every address a source reported, anything that parses
  as an address (see :mod:`.addresses`), and every hidden monitor's name replaced by
  ``[hidden]``. A bare hostname that no source reported cannot be told from a word and
  stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal
from urllib.parse import urlsplit

from .addresses import HIDDEN, public_host, public_url, scrub
from .merge import Monitor
from .schemas import HealthScope

__all__ = ["HIDDEN", "Redactor", "Split", "is_visible", "split_visible"]

Hidden = Literal["scope", "tags_unknown"]


def _any(patterns: Iterable[str], values: Iterable[str]) -> bool:
    folded = [v.casefold() for v in values]
    return any(fnmatchcase(v, p.casefold()) for p in patterns for v in folded)


def _tag_keys(tags: Iterable[str]) -> set[str]:
    """A tag 'env=lab' matches the globs 'env' and 'env=lab'."""
    keys = set()
    for tag in tags:
        keys.add(tag)
        keys.add(tag.partition("=")[0])
    return keys


def uses_tags(scope: HealthScope | None) -> bool:
    return scope is not None and (scope.tags is not None or bool(scope.exclude_tags))


def why_hidden(mon: Monitor, scope: HealthScope | None) -> Hidden | None:
    """``None`` when ``mon`` is visible, else why not."""
    if scope is None:
        return None
    if scope.names is not None and not _any(scope.names, [mon.name]):
        return "scope"
    if scope.groups is not None and not _any(scope.groups, mon.groups):
        return "scope"
    if _any(scope.exclude_names, [mon.name]):
        return "scope"
    if not uses_tags(scope):
        return None
    if not mon.tags_known:
        return "tags_unknown"
    if scope.tags is not None and not _any(scope.tags, _tag_keys(mon.tags)):
        return "scope"
    if _any(scope.exclude_tags, _tag_keys(mon.tags | mon.metric_tags)):
        return "scope"
    return None


def is_visible(mon: Monitor, scope: HealthScope | None) -> bool:
    return why_hidden(mon, scope) is None


@dataclass(slots=True)
class Split:
    visible: list[Monitor] = field(default_factory=list)
    hidden: list[Monitor] = field(default_factory=list)
    tags_unknown: int = 0  # hidden only because a tag rule could not be answered


def split_visible(monitors: list[Monitor], scope: HealthScope | None) -> Split:
    split = Split()
    for mon in monitors:
        reason = why_hidden(mon, scope)
        (split.visible if reason is None else split.hidden).append(mon)
        split.tags_unknown += reason == "tags_unknown"
    return split


def _addresses(mon: Monitor) -> set[str]:
    found: set[str] = set()
    if mon.url:
        found.add(mon.url)
        shown = public_url(mon.url)
        if shown:
            found.add(shown)
        try:
            parts = urlsplit(mon.url)
            if parts.hostname:
                found.add(parts.hostname)
            if parts.netloc:
                found.add(parts.netloc.rpartition("@")[2])
        except ValueError:
            pass
    host = public_host(mon.hostname)
    if host:
        found.add(host)
        if mon.port is not None:
            found.add(f"{host}:{mon.port}")
    return found


def _credentials(mon: Monitor) -> set[str]:
    """User info and password of the monitor's URL and hostname: never shown."""
    found: set[str] = set()
    for value in (mon.url, mon.hostname):
        if value and "@" in value:
            found.add(value)
            userinfo = value.rpartition("@")[0].rpartition("//")[2]
            found.add(userinfo)
            found.add(userinfo.partition(":")[2])
    return {f for f in found if f}


class Redactor:
    """Built once per call from every monitor the sources returned, visible or not."""

    def __init__(self, visible: list[Monitor], hidden: list[Monitor], show_addresses: bool) -> None:
        secrets: set[str] = {m.name for m in hidden}
        secrets -= {m.name for m in visible}  # same name on a visible monitor is not a secret
        for mon in (*visible, *hidden):
            secrets |= _credentials(mon)
            if not show_addresses:
                secrets |= _addresses(mon)
        if show_addresses:  # a hidden monitor's address is no address the policy shows
            shown = set().union(*(_addresses(m) for m in visible))
            secrets |= set().union(*(_addresses(m) for m in hidden)) - shown
        self.show_addresses = show_addresses
        # Longest first so a URL is replaced before the hostname inside it.
        ordered = sorted((s for s in secrets if s.strip()), key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(_bounded(s) for s in ordered), re.IGNORECASE) if ordered else None
        )

    def text(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub(HIDDEN, value)
        return scrub(value, hide_addresses=not self.show_addresses)

    def texts(self, values: Iterable[str]) -> list[str]:
        return sorted({self.text(v) for v in values})


def _bounded(secret: str) -> str:
    """Match ``secret`` not glued to surrounding word characters ('nas' not in 'canasta')."""
    left = r"(?<!\w)" if secret[0].isalnum() or secret[0] == "_" else ""
    right = r"(?!\w)" if secret[-1].isalnum() or secret[-1] == "_" else ""
    return left + re.escape(secret) + right
