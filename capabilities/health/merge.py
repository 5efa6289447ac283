"""One view of each monitor, combined from /metrics and any number of status pages.

Identity is the monitor id, never the name: two monitors may share a name, and a hidden
twin must not lend its status, latency or address to a visible monitor. 2.x metrics carry
``monitor_id`` and join by it. 1.23 metrics do not, and a name that looks unique can still
be two monitors (a paused page monitor has no series; a same-named one on no page has), so a
1.23 series whose name a status page lists is left to the pages (which speak for the
monitor from its own heartbeats) and kept aside as ``unattributed`` (never listed; its
address is still one to hide); a series whose name no page lists is a monitor of its own,
without id.

Precedence: /metrics is live (never cached by Uptime Kuma), so its status and latency win
when joined by id;
history, last-check time, group membership and the tag list come from the status pages
(cached server-side for up to a minute).

Paused: Uptime Kuma removes a monitor's series from ``/metrics`` when it stops (pause),
and the public APIs never say "paused". A monitor a status page lists that is surely
absent from ``/metrics`` (its id, or on 1.23 its name, is not there) is
``paused``; its last beat stays in its history.
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
    tags: set[str] = field(default_factory=set)  # from status pages that show tags
    tags_known: bool = False  # ``tags`` is the monitor's whole tag list
    metric_tags: set[str] = field(default_factory=set)  # /metrics labels: partial, sanitized
    groups: set[str] = field(default_factory=set)  # "slug/Group name"
    pages: set[str] = field(default_factory=set)
    in_metrics: bool = False
    absent_from_metrics: bool = False  # metrics were read and surely do not list it
    unattributed: bool = False  # a 1.23 series that may be any same-named monitor's


def build_monitors(
    metrics: list[MetricMonitor] | None,
    pages: dict[str, PageData],
    heartbeats: dict[str, Heartbeats],
    *,
    now: datetime,
    stale_after_seconds: int,
) -> list[Monitor]:
    """``metrics`` is None when /metrics was not read (disabled or failed)."""
    by_id = _from_pages(pages, heartbeats)
    monitors = list(by_id.values())
    page_names = {m.name for m in monitors}
    for mm in metrics or ():
        target = by_id.get(mm.id) if mm.id is not None else None
        if target is None:
            # 1.23: which same-named monitor a series is cannot be known
            unattributed = mm.id is None and mm.name in page_names
            target = Monitor(name=mm.name, id=mm.id, unattributed=unattributed)
            monitors.append(target)
            if mm.id is not None:
                by_id[mm.id] = target
        _apply_metrics(target, mm)
    if metrics is not None:
        _mark_absent(monitors, metrics)
    for mon in monitors:
        _finish(mon, now=now, stale_after=stale_after_seconds)
    monitors.sort(key=lambda m: (m.name.casefold(), m.id is None, m.id or 0))
    return monitors


def _from_pages(
    pages: dict[str, PageData], heartbeats: dict[str, Heartbeats]
) -> dict[int, Monitor]:
    by_id: dict[int, Monitor] = {}
    for slug, page in pages.items():
        beats = heartbeats.get(slug)
        for group in page.groups:
            for pm in group.monitors:
                mon = by_id.get(pm.id)
                if mon is None:
                    mon = by_id[pm.id] = Monitor(name=pm.name, id=pm.id, type=pm.type)
                mon.groups.add(f"{slug}/{group.name}")
                mon.pages.add(slug)
                if pm.tags is not None:
                    mon.tags |= pm.tags
                    mon.tags_known = True
                mon.url = mon.url or pm.url
                if pm.cert_days is not None:
                    mon.cert_days = pm.cert_days
                if beats is not None:
                    _apply_beats(mon, beats)
    return by_id


def _mark_absent(monitors: list[Monitor], metrics: list[MetricMonitor]) -> None:
    ids = {mm.id for mm in metrics if mm.id is not None}
    unnamed = {mm.name for mm in metrics if mm.id is None}
    for mon in monitors:
        if not mon.in_metrics and mon.id is not None:
            mon.absent_from_metrics = mon.id not in ids and mon.name not in unnamed


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
    mon.metric_tags |= mm.tags
    if "1d" in mm.uptime:
        mon.uptime_24h = mm.uptime["1d"]
    if "30d" in mm.uptime:
        mon.uptime_30d = mm.uptime["30d"]
    if mm.cert_days is not None:
        mon.cert_days = mm.cert_days


def _finish(mon: Monitor, *, now: datetime, stale_after: int) -> None:
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
    if mon.absent_from_metrics:
        mon.status, mon.latency_ms = "paused", None
        mon.since, mon.since_lower_bound = None, False
    too_old = mon.last_check is not None and now - mon.last_check > timedelta(seconds=stale_after)
    mon.stale = too_old or mon.absent_from_metrics
