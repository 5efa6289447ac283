"""Opaque search cursors: base64url of a small JSON object, checked strictly when decoded.

A cursor carries the next page number, a fingerprint of the arguments it belongs to (so it
cannot be replayed with another query or filters) and, for 3.x servers, the best raw score
of the first page (so later pages are scored on the same scale).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Cursor", "CursorError", "fingerprint"]

MAX_PAGE = 1000


class CursorError(ValueError):
    """The cursor is not one this capability issued for these arguments."""


def fingerprint(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    page: int
    fp: str
    best: float | None = None

    def encode(self) -> str:
        data = {"p": self.page, "f": self.fp, "b": self.best}
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, fp: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError):
            raise CursorError("not a cursor") from None
        if not isinstance(data, dict) or set(data) != {"p", "f", "b"}:
            raise CursorError("not a cursor")
        page, found_fp, best = data["p"], data["f"], data["b"]
        if type(page) is not int or not 2 <= page <= MAX_PAGE:
            raise CursorError("bad page")
        if found_fp != fp:
            raise CursorError("cursor of other arguments")
        if best is not None and (type(best) not in (int, float) or not 0 <= best < 1e9):
            raise CursorError("bad score scale")
        return cls(page, fp, None if best is None else float(best))
