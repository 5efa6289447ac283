"""Config, policy scope, tool arguments and outputs of the astro capability."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gateway.capability import UntrustedText

from .mapping import Ident, NinaMapping, RmsUnit, WideMapping

__all__ = [
    "NIGHT_MAX",
    "NIGHT_MIN",
    "AstroConfig",
    "AstroScope",
    "CalibrationStat",
    "FilterStat",
    "Gap",
    "GetSessionArgs",
    "ListSessionsArgs",
    "Quality",
    "SessionDetail",
    "SessionList",
    "SessionSummary",
    "TargetTotal",
    "TargetTotals",
    "TargetTotalsArgs",
    "TempStats",
]

_FORBID = ConfigDict(extra="forbid")
#: Policy target globs: letters, digits, space and ``_ . + -``; ``*`` and ``?`` as wildcards.
Glob = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 _.+\-*?]{1,64}$")]
HiddenField = Literal["file", "camera"]
TargetArg = Annotated[str, StringConstraints(min_length=1, max_length=200)]
FilterArg = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class AstroConfig(BaseModel):
    """The ``capabilities.astro`` section of the gateway configuration."""

    model_config = _FORBID

    upstream: str = Field("influxdb", min_length=1, max_length=64)
    backend: Literal["influxql", "flux"] = "influxql"
    database: Ident = "astro"
    retention_policy: Ident | None = None
    #: Flux only: bucket and organisation.
    bucket: Ident = "astro"
    org: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] | None = None
    layout: Literal["wide", "nina"] = "wide"
    wide: WideMapping = WideMapping()
    nina: NinaMapping = NinaMapping()
    timezone: str = Field("UTC", max_length=64)
    #: night = local date of (t - offset); N.I.N.A.'s $$DATEMINUS12$$ is 12.
    night_offset_hours: int = Field(12, ge=0, le=23)
    gap_minutes: float = Field(30, gt=0, le=720)
    max_rows: int = Field(50_000, ge=10, le=1_000_000)
    max_window_days: int = Field(366, ge=1, le=3660)
    totals_default_days: int = Field(365, ge=1, le=3660)

    @model_validator(mode="after")
    def _check(self) -> AstroConfig:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        if self.backend == "flux" and self.layout != "wide":
            raise ValueError("the flux backend serves the wide layout only")
        return self

    @property
    def rms_unit(self) -> RmsUnit:
        return self.wide.rms_unit if self.layout == "wide" else self.nina.rms_unit


class AstroScope(BaseModel):
    """The policy rule's ``scope`` block for astro tools."""

    model_config = _FORBID

    targets: list[Glob] | None = Field(None, min_length=1, max_length=100)
    max_window_days: int | None = Field(None, ge=1, le=3660)
    max_sessions: int | None = Field(None, ge=1, le=500)
    hidden_fields: list[HiddenField] = Field(default_factory=list)

    def allows(self, target: str | None) -> bool:
        if self.targets is None:
            return True
        return target is not None and glob_regex(self.targets).fullmatch(target) is not None


def glob_regex(globs: list[str]) -> re.Pattern[str]:
    """Compile validated globs to one anchored regex (also valid RE2 for InfluxQL)."""
    return re.compile(glob_pattern(globs))


def glob_pattern(globs: list[str]) -> str:
    parts = []
    for g in globs:
        out = []
        for ch in g:
            if ch == "*":
                out.append(".*")
            elif ch == "?":
                out.append(".")
            elif ch.isascii() and (ch.isalnum() or ch == "_"):
                out.append(ch)
            else:
                out.append(f"\\x{ord(ch):02x}")
        parts.append("".join(out))
    return "(?s)^(?:" + "|".join(parts) + ")$"


#: A night date: InfluxDB stores nanoseconds since 1970 in 64 bits, so nights outside this range
#: cannot hold data (and a year below 1000 would not even format as RFC 3339).
NIGHT_MIN = date(1970, 1, 2)
NIGHT_MAX = date(2261, 12, 31)
Night = Annotated[date, Field(ge=NIGHT_MIN, le=NIGHT_MAX)]


class ListSessionsArgs(BaseModel):
    model_config = _FORBID

    start: Night = Field(description="First night (local date the night began), YYYY-MM-DD.")
    end: Night = Field(description="Last night, inclusive, YYYY-MM-DD; not before start.")
    target: TargetArg | None = Field(None, description="Only this target, exact name.")
    filter: FilterArg | None = Field(None, description="Only sessions that used this filter.")
    cursor: str | None = Field(
        None, max_length=512, description="next_cursor of the previous page; same other args."
    )
    limit: int = Field(20, ge=1, le=100, description="Sessions per page.")

    @model_validator(mode="after")
    def _order(self) -> ListSessionsArgs:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class GetSessionArgs(BaseModel):
    model_config = _FORBID

    session_id: str = Field(
        min_length=1, max_length=512, description="A session id from astro_list_sessions."
    )


class TargetTotalsArgs(BaseModel):
    model_config = _FORBID

    target: TargetArg | None = Field(None, description="Only this target, exact name.")
    start: Night | None = Field(None, description="First night; default: a year before end.")
    end: Night | None = Field(None, description="Last night, inclusive; default: last night.")

    @model_validator(mode="after")
    def _order(self) -> TargetTotalsArgs:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class FilterStat(BaseModel):
    model_config = _FORBID

    filter: UntrustedText | None
    frames: int
    integration_s: float
    hfr_median: float | None = None
    stars_median: float | None = None
    guiding_rms_mean: float | None = None


class Quality(BaseModel):
    model_config = _FORBID

    hfr_median: float | None
    hfr_min: float | None
    stars_median: float | None
    guiding_rms_mean: float | None
    guiding_rms_unit: RmsUnit


class Gap(BaseModel):
    model_config = _FORBID

    stopped: datetime = Field(description="End of the last frame before the gap.")
    resumed: datetime = Field(description="Start of the next frame.")
    lost_minutes: float


class SessionSummary(BaseModel):
    model_config = _FORBID

    id: str
    night: date
    target: UntrustedText
    filters: list[UntrustedText]
    frames: int
    integration_s: float
    integration_by_filter: list[FilterStat]
    first_frame: datetime
    last_frame_end: datetime
    interruptions: int
    lost_minutes: float
    quality: Quality
    camera: UntrustedText | None = None
    resume_cursor: str = Field(
        description="Pass as cursor (same other arguments) to continue after this session."
    )


class SessionList(BaseModel):
    model_config = _FORBID

    items: list[SessionSummary]
    next_cursor: str | None
    partial: bool


class TempStats(BaseModel):
    model_config = _FORBID

    min_c: float | None
    max_c: float | None
    mean_c: float | None


class CalibrationStat(BaseModel):
    model_config = _FORBID

    image_type: UntrustedText
    filter: UntrustedText | None
    frames: int
    exposure_s: float


class SessionDetail(BaseModel):
    model_config = _FORBID

    id: str
    night: date
    target: UntrustedText
    frames: int
    integration_s: float
    per_filter: list[FilterStat]
    first_frame: datetime
    last_frame_end: datetime
    quality: Quality
    sensor_temp: TempStats
    gaps: list[Gap]
    lost_minutes: float
    calibration: list[CalibrationStat]
    camera: UntrustedText | None = None
    files: list[UntrustedText] = Field(default_factory=list, description="First few file paths.")
    files_total: int = 0
    partial: bool = False


class TargetTotal(BaseModel):
    model_config = _FORBID

    target: UntrustedText
    integration_s: float
    frames: int
    per_filter: list[FilterStat]
    nights: int
    last_imaged: date


class TargetTotals(BaseModel):
    model_config = _FORBID

    items: list[TargetTotal]
    first_night: date
    last_night: date
    partial: bool
