"""Search cursors: a small position sealed by the gateway, checked strictly when opened.

The gateway seals it (:meth:`ToolContext.seal_cursor`), so only it can mint one, for this
tool and this principal. A cursor carries the position of the next hit in the gateway's own
ranking (never an upstream page or position, which would count hits the agent may not see)
and a fingerprint of the arguments it belongs to (so it cannot be replayed with another
query or filters).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from gateway.capability import ToolContext

__all__ = ["BAD_CURSOR", "Cursor", "CursorError", "fingerprint"]

BAD_CURSOR = "The cursor is not valid for these arguments; repeat the search without it."

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

    def encode(self, ctx: ToolContext[Any, Any]) -> str:
        return ctx.seal_cursor({"o": self.offset, "f": self.fp})

    @classmethod
    def decode(cls, ctx: ToolContext[Any, Any], text: str, fp: str) -> Cursor:
        data = ctx.open_cursor(text, BAD_CURSOR)
        if set(data) != {"o", "f"}:
            raise CursorError("not a cursor")
        offset, found_fp = data["o"], data["f"]
        if type(offset) is not int or not 1 <= offset < MAX_OFFSET:
            raise CursorError("bad offset")
        if found_fp != fp:
            raise CursorError("cursor of other arguments")
        return cls(offset, fp)
