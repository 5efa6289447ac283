"""From an upstream tool's name to a labgate tool name: ``<server>_<tool>``, ASCII snake_case,
at most 40 characters.

``getLiveContext`` -> ``get_live_context``; any other character becomes ``_``; runs of ``_``
collapse. A name that would exceed 40 characters keeps its head and ends in ``_`` plus eight hex
digits of the SHA-256 of the upstream name, so it stays stable and distinct. Two upstream tools
that end up with one name are a load error (never "the first one wins").
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_TOOL_NAME", "NameClash", "labgate_name", "labgate_names"]

MAX_TOOL_NAME = 40
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_OTHER = re.compile(r"[^a-z0-9]+")


class NameClash(ValueError):
    """Two upstream tools map to one labgate name."""


def labgate_name(server: str, upstream: str) -> str:
    """The labgate name of upstream tool ``upstream`` of ``server``."""
    ascii_name = upstream.encode("ascii", "replace").decode("ascii")
    words = _OTHER.sub("_", _CAMEL.sub("_", ascii_name).lower()).strip("_")
    name = f"{server}_{words or 'tool'}"
    if words and words[0].isdigit():
        name = f"{server}_t{words}"
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha256(upstream.encode("utf-8")).hexdigest()[:8]
    head = name[: MAX_TOOL_NAME - 9].rstrip("_")
    return f"{head}_{digest}"


def labgate_names(server: str, upstream_names: list[str]) -> dict[str, str]:
    """labgate name -> upstream name, for every tool; :class:`NameClash` on a collision."""
    out: dict[str, str] = {}
    for upstream in upstream_names:
        name = labgate_name(server, upstream)
        if name in out and out[name] != upstream:
            raise NameClash(
                f"server {server}: upstream tools {out[name]!r} and {upstream!r} both become {name}"
            )
        out[name] = upstream
    return out
