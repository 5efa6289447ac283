"""Render a generated Uptime Kuma state in each recorded version's wire format.

The shapes follow the recordings: label sets and families per version for /metrics, the
``incident``/``incidents`` switch and the 50/100 heartbeat cap for the status-page APIs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .fake_kuma import FakeKuma, Reply

__all__ = ["GenMonitor", "GenState", "install"]

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
    tags: dict[str, str]
    group: str | None  # group on page "lab", or not on any page
    send_url: bool
    status: int
    in_metrics: bool
    beats: tuple[int, ...]  # statuses, oldest first


@dataclass(frozen=True)
class GenState:
    monitors: tuple[GenMonitor, ...]
    incident: str | None
    now: datetime
    extra: dict[str, str] = field(default_factory=dict)


def _labels(m: GenMonitor, version: str, window: str | None = None) -> str:
    parts = []
    if version == "2.5.3":
        parts += [f'{k}="{v}"' for k, v in sorted(m.tags.items())]
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


def metrics(state: GenState, version: str) -> str:
    shown = [m for m in state.monitors if m.in_metrics]
    lines = ["# HELP monitor_cert_days_remaining x", "# TYPE monitor_cert_days_remaining gauge"]
    if version == "2.5.3":
        lines += ["# HELP monitor_uptime_ratio x", "# TYPE monitor_uptime_ratio gauge"]
        for m in shown:
            for w in ("1d", "30d", "365d"):
                lines.append(f"monitor_uptime_ratio{_labels(m, version, w)} 0.5")
    lines += ["# HELP monitor_response_time x", "# TYPE monitor_response_time gauge"]
    lines += [f"monitor_response_time{_labels(m, version)} 12" for m in shown]
    lines += ["# HELP monitor_status x", "# TYPE monitor_status gauge"]
    lines += [f"monitor_status{_labels(m, version)} {m.status}" for m in shown]
    return "\n".join(lines) + "\n"


def page(state: GenState, version: str) -> dict[str, object]:
    groups: dict[str, list[dict[str, object]]] = {}
    for m in state.monitors:
        if m.group is None:
            continue
        entry: dict[str, object] = {
            "id": m.id, "name": m.name, "sendUrl": int(m.send_url), "type": m.type,
            "tags": [{"id": m.id, "monitor_id": m.id, "tag_id": 1, "name": k, "value": v,
                      "color": "#000"} for k, v in sorted(m.tags.items())],
        }  # fmt: skip
        if m.send_url and m.url:
            entry["url"] = m.url
        groups.setdefault(m.group, []).append(entry)
    incident = None
    if state.incident is not None:
        incident = {"id": 1, "style": "danger", "title": state.incident, "pin": 1,
                    "content": state.incident, "createdDate": "2026-11-25 20:00:00",
                    "lastUpdatedDate": None}  # fmt: skip
    body: dict[str, object] = {
        "config": {"slug": "lab", "title": "Lab", "showTags": True},
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
        beats[str(m.id)] = [
            {"status": s, "msg": "", "ping": None if s in (0, 3) else 7,
             "time": (state.now - timedelta(seconds=20 * (n - i))).strftime(stamp)}
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
