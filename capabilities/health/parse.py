"""Uptime Kuma's wire formats, read into plain values.

Three versions are understood (recorded: 1.23.17, 2.0.2, 2.5.3):

* ``/metrics``: Prometheus text. 1.23 labels are ``monitor_name, monitor_type, monitor_url,
  monitor_hostname, monitor_port``; 2.x adds ``monitor_id``; 2.1+ adds one label per tag and
  the ``monitor_uptime_ratio`` / ``monitor_response_time_seconds`` families (``window``).
  Null columns are the string ``"null"``; a response time of -1 means "no ping". A tag
  label holds the monitor's values for that tag joined by ``,`` (each reduced to
  ``[A-Za-z0-9_]``): ``env="lab,lab"`` is the one tag ``env=lab``. Without ``monitor_id``
  (1.23) a series is one monitor per distinct label set: two same-named monitors are two
  series.
* ``/api/status-page/<slug>``: ``incident`` (object or null, 1.23/2.0) or ``incidents``
  (array, 2.1+), ``publicGroupList``, ``maintenanceList``. A monitor's ``tags`` key exists
  only when the page shows tags (``showTags``); without it the tags are unknown, not empty.
* ``/api/status-page/heartbeat/<slug>``: beats oldest first, times UTC without a zone.

Anything that does not have these shapes raises :class:`BadResponse`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict, ValidationError

from .schemas import Status

__all__ = [
    "STATUS_NAMES",
    "BadResponse",
    "Beat",
    "Heartbeats",
    "MetricMonitor",
    "PageData",
    "PageGroup",
    "PageIncident",
    "PageMonitor",
    "parse_heartbeats",
    "parse_metrics",
    "parse_status_page",
]

STATUS_NAMES: dict[int, Status] = {0: "down", 1: "up", 2: "pending", 3: "maintenance"}
_BUILTIN_LABELS = frozenset(
    {
        "monitor_id",
        "monitor_name",
        "monitor_type",
        "monitor_url",
        "monitor_hostname",
        "monitor_port",
        "window",
    }
)


#: Without ``monitor_id``, what tells two series of same-named monitors apart.
_IDENTITY = ("monitor_name", "monitor_type", "monitor_url", "monitor_hostname", "monitor_port")


class BadResponse(ValueError):
    """The upstream answered with something that is not the expected format."""


@dataclass(slots=True)
class MetricMonitor:
    name: str
    id: int | None = None
    type: str | None = None
    url: str | None = None
    hostname: str | None = None
    port: int | None = None
    tags: set[str] = field(default_factory=set)
    status: Status | None = None
    response_ms: float | None = None
    uptime: dict[str, float] = field(default_factory=dict)
    cert_days: float | None = None


@dataclass(frozen=True, slots=True)
class PageMonitor:
    id: int
    name: str
    type: str | None
    url: str | None
    tags: frozenset[str] | None  # None: the page does not show tags
    cert_days: float | None


@dataclass(frozen=True, slots=True)
class PageGroup:
    name: str
    monitors: tuple[PageMonitor, ...]


@dataclass(frozen=True, slots=True)
class PageIncident:
    style: str | None
    title: str
    content: str
    created: datetime | None
    updated: datetime | None


@dataclass(frozen=True, slots=True)
class PageData:
    slug: str
    groups: tuple[PageGroup, ...]
    incidents: tuple[PageIncident, ...]
    maintenance: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Beat:
    time: datetime
    status: Status
    ping: float | None


@dataclass(frozen=True, slots=True)
class Heartbeats:
    beats: dict[int, tuple[Beat, ...]]
    uptime_24h: dict[int, float]


def _null(value: str | None) -> str | None:
    return None if value in (None, "", "null", "undefined") else value


def clean_url(value: str | None) -> str | None:
    """A monitor URL worth showing or hiding; the UI default ``https://`` is no URL."""
    value = _null(value)
    if value is None:
        return None
    try:
        return value if urlsplit(value).hostname else None
    except ValueError:
        return None


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def parse_metrics(text: str) -> list[MetricMonitor]:
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as exc:  # the parser raises several types on garbage
        raise BadResponse(f"metrics do not parse: {type(exc).__name__}") from None
    if not any(f.name == "monitor_status" for f in families):
        raise BadResponse("no monitor_status family: not Uptime Kuma metrics")
    monitors: dict[tuple[str | None, ...], MetricMonitor] = {}
    for family in families:
        if not family.name.startswith("monitor_"):
            continue
        for sample in family.samples:
            labels = sample.labels
            name = labels.get("monitor_name")
            if not name:
                continue
            mid = labels.get("monitor_id")
            key = ("id", mid) if mid else ("labels", *(labels.get(k) for k in _IDENTITY))
            mon = monitors.get(key)
            if mon is None:
                mon = monitors[key] = _metric_monitor(labels)
            _apply_sample(mon, family.name, labels, _number(sample.value))
    return list(monitors.values())


def _metric_monitor(labels: dict[str, str]) -> MetricMonitor:
    mid, port = labels.get("monitor_id", ""), _null(labels.get("monitor_port"))
    tags: set[str] = set()
    for key, joined in labels.items():
        if key not in _BUILTIN_LABELS:
            values = {v for v in joined.split(",") if v}
            tags |= {f"{key}={v}" for v in values} if values else {key}
    return MetricMonitor(
        name=labels["monitor_name"],
        id=int(mid) if mid.isdigit() else None,
        type=_null(labels.get("monitor_type")),
        url=clean_url(labels.get("monitor_url")),
        hostname=_null(labels.get("monitor_hostname")),
        port=int(port) if port and port.isdigit() else None,
        tags=tags,
    )


def _apply_sample(mon: MetricMonitor, family: str, labels: dict[str, str], v: float | None) -> None:
    if v is None:
        return
    if family == "monitor_status":
        mon.status = STATUS_NAMES.get(int(v), "unknown") if v.is_integer() else "unknown"
    elif family == "monitor_response_time":
        mon.response_ms = v if v >= 0 else None
    elif family == "monitor_uptime_ratio" and "window" in labels:
        mon.uptime[labels["window"]] = v
    elif family == "monitor_cert_days_remaining":
        mon.cert_days = v


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Tag(_Loose):
    name: str
    value: str | None = None


class _Monitor(_Loose):
    id: int
    name: str
    type: str | None = None
    url: str | None = None
    tags: list[_Tag] | None = None
    certExpiryDaysRemaining: float | None = None


class _Group(_Loose):
    name: str
    monitorList: list[_Monitor]


class _Incident(_Loose):
    style: str | None = None
    title: str | None = None
    content: str | None = None
    createdDate: str | None = None
    lastUpdatedDate: str | None = None


class _Maintenance(_Loose):
    title: str | None = None


class _Page(_Loose):
    incident: _Incident | None = None
    incidents: list[_Incident] | None = None
    publicGroupList: list[_Group]
    maintenanceList: list[_Maintenance] = []


class _Beat(_Loose):
    status: int
    time: str
    ping: float | None = None


class _Heartbeats(_Loose):
    heartbeatList: dict[str, list[_Beat]]
    uptimeList: dict[str, float]


def _time(value: str | None) -> datetime | None:
    """Kuma's ``YYYY-MM-DD HH:mm:ss[.SSS]`` (UTC, no zone)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise BadResponse("bad time in status page data") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _tag(tag: _Tag) -> str:
    return f"{tag.name}={tag.value}" if tag.value else tag.name


def parse_status_page(slug: str, data: Any) -> PageData:
    try:
        page = _Page.model_validate(data)
    except ValidationError:
        raise BadResponse("status page JSON has an unexpected shape") from None
    raw = page.incidents if page.incidents is not None else [page.incident] if page.incident else []
    incidents = tuple(
        PageIncident(
            i.style, i.title or "", i.content or "", _time(i.createdDate), _time(i.lastUpdatedDate)
        )
        for i in raw
    )
    groups = tuple(
        PageGroup(
            g.name,
            tuple(
                PageMonitor(
                    m.id,
                    m.name,
                    m.type,
                    clean_url(m.url),
                    None if m.tags is None else frozenset(_tag(t) for t in m.tags),
                    m.certExpiryDaysRemaining,
                )
                for m in g.monitorList
            ),
        )
        for g in page.publicGroupList
    )
    maintenance = tuple(m.title for m in page.maintenanceList if m.title)
    return PageData(slug, groups, incidents, maintenance)


def parse_heartbeats(data: Any) -> Heartbeats:
    try:
        hb = _Heartbeats.model_validate(data)
    except ValidationError:
        raise BadResponse("heartbeat JSON has an unexpected shape") from None
    beats: dict[int, tuple[Beat, ...]] = {}
    for key, items in hb.heartbeatList.items():
        if not key.isdigit():
            raise BadResponse("heartbeat list key is not a monitor id")
        parsed = []
        for b in items:
            when = _time(b.time)
            if when is None:
                raise BadResponse("beat without a time")
            ping = b.ping if b.ping is not None and b.ping >= 0 else None
            parsed.append(Beat(when, STATUS_NAMES.get(b.status, "unknown"), ping))
        parsed.sort(key=lambda beat: beat.time)
        beats[int(key)] = tuple(parsed)
    uptime: dict[int, float] = {}
    for key, ratio in hb.uptimeList.items():
        mid, _, window = key.partition("_")
        if mid.isdigit() and window == "24":
            uptime[int(mid)] = ratio
    return Heartbeats(beats, uptime)
