"""The one data-fetching interface both backends implement, and the values it carries.

Session logic (``sessions.py``) sees only :class:`Frame` values, so InfluxQL (1.x, 2.x v1
API) and Flux (2.x) give the same sessions for the same points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

__all__ = ["AstroBackend", "Frame", "FrameBatch", "FrameQuery", "FrameSource", "SourceError"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One saved frame; ``start`` is the exposure start (UTC)."""

    start: datetime
    image_type: str
    exposure_s: float
    target: str | None = None
    filter: str | None = None
    hfr: float | None = None
    stars: float | None = None
    rms: float | None = None
    sensor_temp_c: float | None = None
    camera: str | None = None
    file: str | None = None


@dataclass(frozen=True, slots=True)
class FrameQuery:
    """What to fetch. Values here are sent only as bound parameters / extern literals."""

    start: datetime
    end: datetime
    #: Exact target (agent value); ``None``: any.
    target: str | None = None
    #: Policy globs (validated by the scope model); ``None``: no restriction.
    target_globs: tuple[str, ...] | None = None
    #: Also return calibration (non-LIGHT) frames of any target.
    calibration: bool = False
    #: Fetch the quality/detail fields too (HFR, stars, RMS, temperature, camera, file).
    detail: bool = True
    #: Row cap; more rows than this means the answer is partial.
    limit: int = 50_000


@dataclass(slots=True)
class FrameBatch:
    """Frames newest first; ``partial`` when a cap or the server truncated the answer."""

    frames: list[Frame]
    partial: bool = False
    #: When partial: every row newer than this instant was fetched (older ones may be
    #: missing). ``None`` with ``partial``: the cut's place is unknown.
    complete_after: datetime | None = None
    #: Statements (one per HTTP request) this batch cost.
    statements: int = 0
    notes: dict[str, int] = field(default_factory=dict)


class SourceError(Exception):
    """A backend failure in the capability's own terms; ``tools.py`` maps it to gateway errors.

    ``kind``: ``credentials`` (401/403), ``not_found`` (database/bucket missing),
    ``rejected`` (the server refused the statement), ``bad_response`` (unparseable answer).
    ``internal`` is for logs only (truncated upstream text).
    """

    def __init__(self, kind: str, internal: str) -> None:
        self.kind = kind
        self.internal = internal[:300]
        super().__init__(f"{kind}: {self.internal}")


class FrameSource(Protocol):
    async def fetch(self, query: FrameQuery) -> FrameBatch: ...


@dataclass(frozen=True, slots=True)
class AstroBackend:
    """The client the tools use (``ctx.client(AstroBackend)``), whichever backend it is."""

    source: FrameSource
