"""Opaque search cursors: base64url of a small JSON object, checked strictly when decoded.

A cursor carries the position of the next hit in the gateway's own ranking (never an upstream
page or position, which would count hits the agent may not see) and a fingerprint of the
arguments it belongs to (so it cannot be replayed with another query or filters).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Cursor", "CursorError", "fingerprint"]

#: The furthest position a cursor can point to (the scan reads at most 200 upstream hits).
MAX_OFFSET = 200


class CursorError(ValueError):
    """The cursor is not one this capability issued for these arguments."""


def fingerprint(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    offset: int
    fp: str

    def encode(self) -> str:
        data = {"o": self.offset, "f": self.fp}
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, fp: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError):
            raise CursorError("not a cursor") from None
        if not isinstance(data, dict) or set(data) != {"o", "f"}:
            raise CursorError("not a cursor")
        offset, found_fp = data["o"], data["f"]
        if type(offset) is not int or not 1 <= offset < MAX_OFFSET:
            raise CursorError("bad offset")
        if found_fp != fp:
            raise CursorError("cursor of other arguments")
        return cls(offset, fp)
