"""One view of each monitor, combined from /metrics and any number of status pages.

Joining: by monitor id when both sides have it (2.x metrics carry ``monitor_id``), else by
name (1.23 metrics have no id). Precedence: /metrics is live (never cached by Uptime Kuma),
so its status and latency win; history, last-check time and group membership come from the
status pages (cached server-side for up to a minute).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .parse import Beat, Heartbeats, MetricMonitor, PageData
from .schemas import Status

__all__ = ["Monitor", "build_monitors"]


@dataclass(slots=True)
class Monitor:
    name: str
    id: int | None = None
    type: str | None = None
    status: Status = "unknown"
    latency_ms: float | None = None
    uptime_24h: float | None = None
    uptime_30d: float | None = None
    cert_days: float | None = None
    beats: tuple[Beat, ...] = ()  # oldest first
    last_check: datetime | None = None
    since: datetime | None = None
    since_lower_bound: bool = False
    stale: bool = False
    url: str | None = None
    hostname: str | None = None
    port: int | None = None
    tags: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)  # "slug/Group name"
    pages: set[str] = field(default_factory=set)
    in_metrics: bool = False


def build_monitors(
    metrics: list[MetricMonitor] | None,
    pages: dict[str, PageData],
    heartbeats: dict[str, Heartbeats],
    *,
    now: datetime,
    stale_after_seconds: int,
) -> list[Monitor]:
    """``metrics`` is None when /metrics was not read (disabled or failed)."""
    by_id: dict[int, Monitor] = {}
    by_name: dict[str, Monitor] = {}
    for slug, page in pages.items():
        beats = heartbeats.get(slug)
        for group in page.groups:
            for pm in group.monitors:
                mon = by_id.get(pm.id)
                if mon is None:
                    mon = by_id[pm.id] = Monitor(name=pm.name, id=pm.id, type=pm.type)
                    by_name.setdefault(pm.name, mon)
                mon.groups.add(f"{slug}/{group.name}")
                mon.pages.add(slug)
                mon.tags |= pm.tags
                mon.url = mon.url or pm.url
                if pm.cert_days is not None:
                    mon.cert_days = pm.cert_days
                if beats is not None:
                    _apply_beats(mon, beats)
    for mm in metrics or ():
        mon = by_id.get(mm.id) if mm.id is not None else by_name.get(mm.name)
        if mon is None:
            mon = Monitor(name=mm.name, id=mm.id)
            if mm.id is not None:
                by_id[mm.id] = mon
            by_name.setdefault(mm.name, mon)
        _apply_metrics(mon, mm)
    monitors = list({id(m): m for m in [*by_id.values(), *by_name.values()]}.values())
    for mon in monitors:
        _finish(mon, metrics_read=metrics is not None, now=now, stale_after=stale_after_seconds)
    monitors.sort(key=lambda m: (m.name.casefold(), m.id or 0))
    return monitors


def _apply_beats(mon: Monitor, hb: Heartbeats) -> None:
    if mon.id is None:
        return
    beats = hb.beats.get(mon.id, ())
    if len(beats) > len(mon.beats):
        mon.beats = beats
    if mon.id in hb.uptime_24h and mon.uptime_24h is None:
        mon.uptime_24h = hb.uptime_24h[mon.id]


def _apply_metrics(mon: Monitor, mm: MetricMonitor) -> None:
    mon.in_metrics = True
    mon.type = mm.type or mon.type
    mon.status = mm.status or mon.status
    mon.latency_ms = mm.response_ms
    mon.url = mm.url or mon.url
    mon.hostname = mm.hostname
    mon.port = mm.port
    mon.tags |= mm.tags
    if "1d" in mm.uptime:
        mon.uptime_24h = mm.uptime["1d"]
    if "30d" in mm.uptime:
        mon.uptime_30d = mm.uptime["30d"]
    if mm.cert_days is not None:
        mon.cert_days = mm.cert_days


def _finish(mon: Monitor, *, metrics_read: bool, now: datetime, stale_after: int) -> None:
    if mon.beats:
        last = mon.beats[-1]
        mon.last_check = last.time
        if not mon.in_metrics:
            mon.status = last.status
            mon.latency_ms = last.ping
        if last.status == mon.status:
            run_start = len(mon.beats) - 1
            while run_start > 0 and mon.beats[run_start - 1].status == mon.status:
                run_start -= 1
            mon.since = mon.beats[run_start].time
            mon.since_lower_bound = run_start == 0
    too_old = mon.last_check is not None and now - mon.last_check > timedelta(seconds=stale_after)
    # After a restart, /metrics omits monitors that have not beaten since: paused ones.
    mon.stale = too_old or (metrics_read and not mon.in_metrics)
