"""Render a generated Uptime Kuma state the way each recorded version would serve it.

The shapes follow the recordings; the rules follow Uptime Kuma's source (``server/
prometheus.js``, ``Monitor.toPublicJSON``) and were reproduced against real 1.23.17 and
2.5.3 servers (``recordings/edge/``):

* ``/metrics``: 1.23 has no ``monitor_id``, so two monitors with the same labels are one
  series (the last update wins); 1.23 and 2.0 have no tag labels; 2.1+ has one label per tag
  that existed when the server started (``tags_at_start``), its name and values reduced to
  ``[A-Za-z0-9_]``, the monitor's values joined by ``,`` (a tag listed twice gives
  ``lab,lab``), and no label for a tag the monitor lacks or got after it started. A paused
  monitor has no series (``stop()`` removes it). ``monitor_url`` is the stored URL,
  credentials and query included.
* ``/api/status-page/<slug>``: ``tags`` only when the page shows tags, listed as stored (a
  tag added twice is listed twice); ``url`` (as stored) only with ``sendUrl``.
* ``/api/status-page/heartbeat/<slug>``: a paused monitor's beats stop at its last one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .fake_kuma import FakeKuma, Reply

__all__ = ["GenMonitor", "GenState", "install", "metric_series"]

_JSON = {"content-type": "application/json; charset=utf-8", "cache-control": "no-cache"}
_TEXT = {"content-type": "text/plain; version=0.0.4; charset=utf-8"}


@dataclass(frozen=True)
class GenMonitor:
    id: int
    name: str
    type: str
    url: str | None
    hostname: str | None
    port: int | None
    tags: tuple[tuple[str, str], ...]  # (name, value) as stored: a pair may repeat
    group: str | None  # group on page "lab", or not on any page
    send_url: bool
    status: int
    in_metrics: bool  # False: beaten before the last restart only (or never)
    beats: tuple[int, ...]  # statuses, oldest first
    paused: bool = False
    #: 2.1+: how many of ``tags`` the monitor had when it last started (None: all). Labels
    #: are fixed when a monitor starts: a tag added later shows only after a restart.
    tags_at_monitor_start: int | None = None


@dataclass(frozen=True)
class GenState:
    monitors: tuple[GenMonitor, ...]
    incident: str | None
    now: datetime
    show_tags: bool = True
    tags_at_start: frozenset[str] | None = None  # 2.1+: tag names known at start (None: all)
    extra: dict[str, str] = field(default_factory=dict)


def _sanitize(text: str) -> str:
    """``Prometheus.sanitizeForPrometheus`` (2.1+)."""
    return re.sub(r"^[^a-zA-Z_]+", "", re.sub(r"[^a-zA-Z0-9_]", "", text))


def _tag_labels(m: GenMonitor, state: GenState) -> list[str]:
    values: dict[str, list[str]] = {}
    for name, value in m.tags[: m.tags_at_monitor_start]:
        key = _sanitize(name)
        if not key or (state.tags_at_start is not None and name not in state.tags_at_start):
            continue
        values.setdefault(key, [])
        if _sanitize(value):
            values[key].append(_sanitize(value))
    return [f'{k}="{",".join(sorted(v))}"' for k, v in sorted(values.items())]


def _labels(m: GenMonitor, state: GenState, version: str, window: str | None = None) -> str:
    parts = _tag_labels(m, state) if version == "2.5.3" else []
    if not version.startswith("1."):
        parts.append(f'monitor_id="{m.id}"')
    parts += [
        f'monitor_name="{m.name}"',
        f'monitor_type="{m.type}"',
        f'monitor_url="{m.url or "https://"}"',
        f'monitor_hostname="{m.hostname or "null"}"',
        f'monitor_port="{m.port if m.port is not None else "null"}"',
    ]
    if window:
        parts.append(f'window="{window}"')
    return "{" + ",".join(parts) + "}"


def metric_series(state: GenState, version: str) -> dict[str, GenMonitor]:
    """Label set -> the monitor whose value it shows (1.23: the last one with those labels)."""
    series: dict[str, GenMonitor] = {}
    for m in state.monitors:
        if m.in_metrics and not m.paused:
            series[_labels(m, state, version)] = m
    return series


def metrics(state: GenState, version: str) -> str:
    shown = list(metric_series(state, version).values())
    lines = ["# HELP monitor_cert_days_remaining x", "# TYPE monitor_cert_days_remaining gauge"]
    if version == "2.5.3":
        lines += ["# HELP monitor_uptime_ratio x", "# TYPE monitor_uptime_ratio gauge"]
        for m in shown:
            for w in ("1d", "30d", "365d"):
                lines.append(f"monitor_uptime_ratio{_labels(m, state, version, w)} 0.5")
    lines += ["# HELP monitor_response_time x", "# TYPE monitor_response_time gauge"]
    lines += [f"monitor_response_time{_labels(m, state, version)} 12" for m in shown]
    lines += ["# HELP monitor_status x", "# TYPE monitor_status gauge"]
    lines += [f"monitor_status{_labels(m, state, version)} {m.status}" for m in shown]
    return "\n".join(lines) + "\n"


def page(state: GenState, version: str) -> dict[str, object]:
    groups: dict[str, list[dict[str, object]]] = {}
    for m in state.monitors:
        if m.group is None:
            continue
        entry: dict[str, object] = {"id": m.id, "name": m.name, "sendUrl": int(m.send_url),
                                    "type": m.type}  # fmt: skip
        if m.send_url:
            entry["url"] = m.url or "https://"
        if state.show_tags:
            entry["tags"] = [
                {"id": m.id * 10 + i, "monitor_id": m.id, "tag_id": 1, "name": k, "value": v}
                for i, (k, v) in enumerate(m.tags)
            ]
        groups.setdefault(m.group, []).append(entry)
    incident = None
    if state.incident is not None:
        incident = {"id": 1, "style": "danger", "title": state.incident, "pin": 1,
                    "content": state.incident, "createdDate": "2026-11-25 20:00:00",
                    "lastUpdatedDate": None}  # fmt: skip
    body: dict[str, object] = {
        "config": {"slug": "lab", "title": "Lab", "showTags": state.show_tags},
        "publicGroupList": [
            {"id": i, "name": g, "weight": i, "monitorList": ms}
            for i, (g, ms) in enumerate(sorted(groups.items()), start=1)
        ],
        "maintenanceList": [],
    }
    if version == "2.5.3":
        body["incidents"] = [dict(incident, pin=True, active=True)] if incident else []
    else:
        body["incident"] = incident
    return body


def heartbeats(state: GenState, version: str) -> dict[str, object]:
    cap = 50 if version.startswith("1.") else 100
    beats: dict[str, list[dict[str, str | int | None]]] = {}
    uptime: dict[str, float] = {}
    for m in state.monitors:
        if m.group is None:
            continue
        n = len(m.beats)
        stamp = "%Y-%m-%d %H:%M:%S.000"
        pause_gap = 600 if m.paused else 0  # its beats stopped when it was paused
        beats[str(m.id)] = [
            {"status": s, "msg": "", "ping": None if s in (0, 3) else 7,
             "time": (state.now - timedelta(seconds=pause_gap + 20 * (n - i))).strftime(stamp)}
            for i, s in enumerate(m.beats)
        ][-cap:]  # fmt: skip
        uptime[f"{m.id}_24"] = 1.0
    return {"heartbeatList": beats, "uptimeList": uptime}


def install(fake: FakeKuma, state: GenState) -> None:
    v = fake.version
    fake.overrides["/metrics"] = Reply(200, _TEXT, metrics(state, v).encode())
    fake.overrides["/api/status-page/lab"] = Reply(200, _JSON, json.dumps(page(state, v)).encode())
    fake.overrides["/api/status-page/heartbeat/lab"] = Reply(
        200, _JSON, json.dumps(heartbeats(state, v)).encode()
    )
