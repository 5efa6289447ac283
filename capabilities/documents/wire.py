"""What paperless-ngx answers (API version 9, servers 2.20 and 3.0), parsed strictly enough.

Only the fields the capability uses are read; everything else (``notes`` above all, also
``custom_fields``, ``owner``, ``permissions``, ``versions``) is never requested and, if a
server sends it anyway, never parsed. ``__search_hit__`` (score, rank, highlights and
``note_highlights``) is ignored too: it reflects text the agent may not read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["NamedObject", "Page", "WireDocument"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireDocument(_Wire):
    id: int = Field(ge=1)
    title: str = ""
    created: dt.date
    correspondent: int | None = None
    document_type: int | None = None
    tags: list[int] = Field(default_factory=list)
    content: str | None = None
    page_count: int | None = None
    mime_type: str | None = None

    @field_validator("created", mode="before")
    @classmethod
    def _date_part(cls, value: Any) -> Any:
        # API 9 sends a date; older versions a datetime. Only the calendar date matters.
        if isinstance(value, str) and len(value) > 10:
            return value[:10]
        return value


class NamedObject(_Wire):
    """A tag, correspondent or document type; only id and name are kept."""

    id: int = Field(ge=1)
    name: str


class Page(_Wire):
    """A paginated list; ``all`` is never relied on (absent in v10, rank-ordered in 3.x)."""

    count: int = Field(ge=0)
    next: str | None = None
    results: list[dict[str, Any]]
