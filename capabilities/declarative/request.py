"""Turning validated arguments into a request path and query: nothing but data leaves here.

Every path argument fills one whole segment, percent-escaped with ``quote(value, safe="")``
(so ``/``, ``?``, ``#``, ``%``, ``@`` and ``:`` cannot act as URL syntax). As a second fence,
independent of the operator's pattern, a value is refused when it is, or decodes or
normalises (NFKC) to, a dot segment, or holds a slash, backslash, percent sign or control
character: the request can never leave the upstream's path prefix or name another host.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from .schemas import DeclarativeScope, Scalar, ToolDef

__all__ = ["BadValue", "OutOfScope", "Request", "build_request", "unsafe_segment"]

_DECODE_ROUNDS = 3


class BadValue(Exception):
    """An argument value that may not enter a URL (the message names the argument only)."""


class OutOfScope(Exception):
    """An argument value outside the policy scope."""


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    params: tuple[tuple[str, str], ...]


def unsafe_segment(value: str) -> bool:
    """True when ``value`` could move a request out of its path segment."""
    if not value or len(value) > 200:
        return True
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        return True
    forms = {value, unicodedata.normalize("NFKC", value)}
    decoded = value
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(decoded)
        forms.add(decoded)
        forms.add(unicodedata.normalize("NFKC", decoded))
    for form in forms:
        if form.strip() in (".", "..") or any(ch in form for ch in "/\\%"):
            return True
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in form):
            return True
    return False


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scoped(name: str, value: Any, allowed: list[Scalar] | None) -> Any:
    if allowed is None or value is None:
        return value
    if _text(value) not in {_text(a) for a in allowed}:
        raise OutOfScope(name)
    return value


def build_request(
    defn: ToolDef, args: Mapping[str, Any], scope: DeclarativeScope | None
) -> Request:
    """The path (relative to the upstream's base URL) and query parameters for one call."""
    match = scope.match if scope is not None else {}
    values: dict[str, Any] = {}
    for name, arg in defn.args.items():
        allowed = match.get(arg.scope_field) if arg.scope_field else None
        value = _scoped(name, args.get(name), allowed)
        if value is None and allowed is not None and arg.location == "query":
            # the agent did not narrow it: push the scope's values into the upstream query
            if len(allowed) == 1:
                value = allowed[0]
            elif arg.join is not None:
                value = arg.join.join(_text(v) for v in allowed)
        values[name] = value
    segments = []
    for seg in defn.request.path[1:].split("/"):
        if seg.startswith("{") and seg.endswith("}"):
            text = _text(values[seg[1:-1]])
            if unsafe_segment(text):
                raise BadValue(seg[1:-1])
            seg = quote(text, safe="")
        segments.append(seg)
    params: list[tuple[str, str]] = [(k, _text(v)) for k, v in defn.request.query.items()]
    for name, arg in defn.args.items():
        value = values[name]
        if arg.location != "query" or value is None:
            continue
        text = _text(value)
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            raise BadValue(name)
        params.append((arg.query_name or name, text))
    return Request("/" + "/".join(segments), tuple(params))
