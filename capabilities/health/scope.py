"""The policy scope of the health capability: which monitors are visible, what is hidden.

* Visibility: every scope key that is set must match (AND); inside a key any glob may match.
  Globs are case-insensitive (``fnmatch``). A key that needs data the configured sources do
  not give (tags on 1.23/2.0 metrics, groups without status pages) matches nothing: the
  scope fails closed.
* Redaction: unless ``show_addresses``, URLs, hostnames and ports are dropped from records,
  and any text from the upstream (names, tags, groups, incident text) has every address a
  source reported, anything shaped like a URL, an IPv4 address or ``host.name:port``, and
  every hidden monitor's name replaced by ``[hidden]``. A bare hostname that no source
  reported cannot be told from a word and stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from .merge import Monitor
from .schemas import HealthScope

__all__ = ["HIDDEN", "Redactor", "is_visible", "split_visible"]

HIDDEN = "[hidden]"
_ADDRESS_SHAPES = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+"  # any URL
    r"|(?<![\w.-])(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+:\d{1,5}(?!\d)"  # host.name:port
    r"|(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])"  # IPv4
    r"|\[[0-9A-Fa-f:]*:[0-9A-Fa-f:]*\](?::\d{1,5})?"  # [IPv6]
)


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


def is_visible(mon: Monitor, scope: HealthScope | None) -> bool:
    if scope is None:
        return True
    if scope.names is not None and not _any(scope.names, [mon.name]):
        return False
    if scope.tags is not None and not _any(scope.tags, _tag_keys(mon.tags)):
        return False
    if scope.groups is not None and not _any(scope.groups, mon.groups):
        return False
    if _any(scope.exclude_names, [mon.name]):
        return False
    return not _any(scope.exclude_tags, _tag_keys(mon.tags))


def split_visible(
    monitors: list[Monitor], scope: HealthScope | None
) -> tuple[list[Monitor], list[Monitor]]:
    visible: list[Monitor] = []
    hidden: list[Monitor] = []
    for mon in monitors:
        (visible if is_visible(mon, scope) else hidden).append(mon)
    return visible, hidden


def _addresses(mon: Monitor) -> set[str]:
    found: set[str] = set()
    if mon.url:
        found.add(mon.url)
        try:
            parts = urlsplit(mon.url)
            if parts.hostname:
                found.add(parts.hostname)
            if parts.netloc:
                found.add(parts.netloc.rpartition("@")[2])
        except ValueError:
            pass
    if mon.hostname:
        found.add(mon.hostname)
        if mon.port is not None:
            found.add(f"{mon.hostname}:{mon.port}")
    return found


class Redactor:
    """Built once per call from every monitor the sources returned, visible or not."""

    def __init__(self, visible: list[Monitor], hidden: list[Monitor], show_addresses: bool) -> None:
        secrets: set[str] = {m.name for m in hidden}
        secrets -= {m.name for m in visible}  # same name on a visible monitor is not a secret
        if not show_addresses:
            for mon in (*visible, *hidden):
                secrets |= _addresses(mon)
        self.show_addresses = show_addresses
        # Longest first so a URL is replaced before the hostname inside it.
        ordered = sorted((s for s in secrets if s.strip()), key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(_bounded(s) for s in ordered), re.IGNORECASE) if ordered else None
        )

    def text(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub(HIDDEN, value)
        return value if self.show_addresses else _ADDRESS_SHAPES.sub(HIDDEN, value)

    def texts(self, values: Iterable[str]) -> list[str]:
        return sorted({self.text(v) for v in values})


def _bounded(secret: str) -> str:
    """Match ``secret`` not glued to surrounding word characters ('nas' not in 'canasta')."""
    left = r"(?<!\w)" if secret[0].isalnum() or secret[0] == "_" else ""
    right = r"(?!\w)" if secret[-1].isalnum() or secret[-1] == "_" else ""
    return left + re.escape(secret) + right
