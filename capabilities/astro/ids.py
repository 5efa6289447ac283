"""Opaque session ids and page cursors, strictly re-validated.

An id is base64url of a small JSON naming (night, target); it grants nothing by itself: the
tool checks the target against the policy scope again every time one comes back. A cursor is
sealed by the gateway (:meth:`ToolContext.seal_cursor`): only this gateway can mint one, for
this tool and this principal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import date, datetime
from typing import Any

from gateway.capability import ToolContext
from gateway.errors import InvalidArguments

from .schemas import NIGHT_MAX, NIGHT_MIN

__all__ = [
    "SessionKey",
    "decode_cursor",
    "decode_session_id",
    "encode_cursor",
    "encode_older_than",
    "encode_session_id",
]

_B64 = re.compile(r"^[A-Za-z0-9_-]{4,512}$")
SessionKey = tuple[date, str]


def _encode(obj: dict[str, Any]) -> str:
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(token: str, what: str, keys: set[str]) -> dict[str, Any]:
    bad = InvalidArguments(f"Invalid {what}; use one returned by astro_list_sessions.")
    if not _B64.match(token):
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        obj = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(obj, dict) or set(obj) != keys or obj.get("v") != 1:
        raise bad
    return obj


def _night(value: Any) -> date:
    """A night the tool arguments could name too (InfluxDB cannot store others)."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("night")
    night = date.fromisoformat(value)
    if not NIGHT_MIN <= night <= NIGHT_MAX:
        raise ValueError("night")
    return night


def _target(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 200:
        raise ValueError("target")
    return value


def encode_session_id(night: date, target: str) -> str:
    return _encode({"v": 1, "n": night.isoformat(), "t": target})


def decode_session_id(token: str) -> SessionKey:
    obj = _decode(token, "session_id", {"v", "n", "t"})
    try:
        return _night(obj["n"]), _target(obj["t"])
    except ValueError:
        raise InvalidArguments("Invalid session_id; use one from astro_list_sessions.") from None


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


_BAD_CURSOR = "Invalid cursor; use next_cursor from the previous page."


def encode_cursor(ctx: ToolContext[Any, Any], key: tuple[date, datetime, str], fp: str) -> str:
    night, first, target = key
    return ctx.seal_cursor(
        {"v": 1, "n": night.isoformat(), "f": int(first.timestamp() * 1000), "t": target, "w": fp}
    )


def encode_older_than(ctx: ToolContext[Any, Any], night: date, fp: str) -> str:
    """A cursor that resumes with the nights before ``night`` (``night`` itself is done)."""
    return ctx.seal_cursor({"v": 1, "n": night.isoformat(), "f": 0, "t": "", "w": fp})


def decode_cursor(ctx: ToolContext[Any, Any], token: str, fp: str) -> tuple[date, int, str]:
    """Return (night, first frame ms, target) of the last session already returned.

    ``(night, 0, "")`` is the cursor of :func:`encode_older_than`: every session key of
    ``night`` sorts after it, so only older nights remain.
    """
    obj = ctx.open_cursor(token, _BAD_CURSOR)
    if set(obj) != {"v", "n", "f", "t", "w"} or obj["v"] != 1:
        raise InvalidArguments(_BAD_CURSOR)
    if obj["w"] != fp:
        raise InvalidArguments("The cursor belongs to a different query; repeat its arguments.")
    first = obj["f"]
    if not isinstance(first, int) or isinstance(first, bool) or first < 0:
        raise InvalidArguments(_BAD_CURSOR)
    try:
        if first == 0 and obj["t"] == "":
            return _night(obj["n"]), 0, ""
        return _night(obj["n"]), first, _target(obj["t"])
    except ValueError:
        raise InvalidArguments(_BAD_CURSOR) from None
