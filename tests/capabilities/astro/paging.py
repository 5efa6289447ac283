"""Following ``next_cursor`` like a client does, through the gateway's shaping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from capabilities.astro.schemas import ListSessionsArgs
from capabilities.astro.tools import list_sessions
from gateway.capability import ToolContext
from gateway.shaping import Shape, shape

from .generator import PlannedSession

__all__ = ["Seen", "all_pages", "session_key"]

MAX_PAGES = 1000


def session_key(s: PlannedSession) -> tuple[date, str]:
    return (s.night, s.target)


@dataclass
class Seen:
    keys: list[tuple[date, str]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    trimmed_pages: int = 0
    partial_pages: int = 0


async def all_pages(ctx: ToolContext, *, shape_rule: Shape | None = None, **kw: Any) -> Seen:
    """Every page of ``astro_list_sessions`` as the agent receives it (shaped)."""
    seen, cursor = Seen(), None
    while True:
        out = await list_sessions.handler(ListSessionsArgs(cursor=cursor, **kw), ctx)
        result = out.model_dump(mode="json")
        shaped, partial = shape(result, shape_rule) if shape_rule else (result, out.partial)
        seen.pages += 1
        seen.trimmed_pages += len(shaped["items"]) < len(result["items"])
        seen.partial_pages += partial
        for item in shaped["items"]:
            seen.keys.append((date.fromisoformat(item["night"]), item["target"]))
            seen.items.append(item)
        cursor = shaped["next_cursor"]
        if cursor is None:
            return seen
        assert seen.pages < MAX_PAGES, "paging does not end"
