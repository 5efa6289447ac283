"""Demo data: a small homelab as Uptime Kuma 2.5 would serve it.

``sample_transport()`` returns an ``httpx.MockTransport`` the gateway serves at
``http://sample.invalid`` that answers ``/metrics``, ``/api/status-page/<slug>`` (any slug
serves the same page) and ``/api/status-page/heartbeat/<slug>`` in Uptime Kuma's own
formats, so demo mode runs the real client and parsers with no network. Heartbeat times are
relative to the moment of the request, so the demo always looks current.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from gateway.capability import SAMPLE_BASE_URL, now_utc

__all__ = ["SAMPLE_BASE_URL", "SAMPLE_MONITORS", "sample_transport"]

SAMPLE_BASE_URL = SAMPLE_BASE_URL  # the gateway serves sample clients there

# id, name, type, url, hostname, port, tags, group, history (newest last: (minutes, status))
SAMPLE_MONITORS: tuple[tuple[Any, ...], ...] = (
    (1, "Proxmox VE", "http", "https://10.0.10.2:8006/", None, None, {"tier": "core"}, "Core"),
    (2, "TrueNAS", "http", "http://10.0.10.5/", None, None, {"tier": "core"}, "Core"),
    (3, "Authentik", "http", "https://auth.lab.internal/", None, None, {"tier": "core"}, "Core"),
    (4, "Vault", "http", "https://vault.lab.internal:8200/", None, None, {"private": ""}, "Core"),
    (5, "Home Assistant", "http", "http://10.0.20.10:8123/", None, None, {}, "Apps"),
    (6, "Paperless-ngx", "http", "http://10.0.20.21:8000/", None, None, {}, "Apps"),
    (7, "InfluxDB", "http", "http://10.0.20.30:8086/health", None, None, {}, "Apps"),
    (8, "Grafana", "http", "http://10.0.20.31:3000/api/health", None, None, {}, "Apps"),
    (9, "Frigate NVR", "keyword", "http://10.0.30.4:5000/", None, None, {}, "Apps"),
    (10, "Offsite backup", "push", "https://", None, None, {"tier": "core"}, "Jobs"),
    (11, "Office printer", "port", "https://", "10.0.40.9", 631, {}, "Other"),
)
# Current status code and how many one-minute beats ago it began (the rest of the 60 are UP).
_STATE = {8: (0, 40), 9: (2, 1), 11: (3, 20)}
_BEATS = 60


def _status(mid: int, minutes_ago: int) -> int:
    code, began = _STATE.get(mid, (1, _BEATS))
    return code if minutes_ago < began else 1


def _ping(mid: int, minutes_ago: int, status: int) -> int | None:
    if status in (0, 3):
        return None
    return 4 + (mid * 7 + minutes_ago * 13) % 40


def _labels(mon: tuple[Any, ...], extra: str = "") -> str:
    mid, name, mtype, url, host, port, tags = mon[:7]
    parts = [f'{k}="{v}"' for k, v in tags.items()]
    parts += [
        f'monitor_id="{mid}"',
        f'monitor_name="{name}"',
        f'monitor_type="{mtype}"',
        f'monitor_url="{url}"',
        f'monitor_hostname="{host or "null"}"',
        f'monitor_port="{port or "null"}"',
    ]
    return "{" + ",".join(parts) + extra + "}"


def _metrics() -> str:
    lines = [
        "# HELP monitor_cert_days_remaining The number of days remaining until the certificate"
        " expires",
        "# TYPE monitor_cert_days_remaining gauge",
        f"monitor_cert_days_remaining{_labels(SAMPLE_MONITORS[0])} 41",
        f"monitor_cert_days_remaining{_labels(SAMPLE_MONITORS[2])} 12",
        "# HELP monitor_uptime_ratio Uptime ratio calculated over sliding window specified by the 'window' label. (0.0 - 1.0)",  # noqa: E501
        "# TYPE monitor_uptime_ratio gauge",
    ]
    for mon in SAMPLE_MONITORS:
        if mon[2] == "push":
            continue  # push beats do not update the uptime families (as in Uptime Kuma 2.5)
        ratio = 1 - _STATE.get(mon[0], (1, 0))[1] / 1440 if mon[0] in (8, 9) else 1
        for window, value in (("1d", ratio), ("30d", 0.999 if mon[0] == 8 else 1), ("365d", 1)):
            extra = f',window="{window}"'
            lines.append(f"monitor_uptime_ratio{_labels(mon, extra)} {value}")
    lines += [
        "# HELP monitor_response_time Monitor Response Time (ms)",
        "# TYPE monitor_response_time gauge",
    ]
    for mon in SAMPLE_MONITORS:
        ping = _ping(mon[0], 0, _status(mon[0], 0))
        lines.append(f"monitor_response_time{_labels(mon)} {-1 if ping is None else ping}")
    lines += [
        "# HELP monitor_status Monitor Status (1 = UP, 0= DOWN, 2= PENDING, 3= MAINTENANCE)",
        "# TYPE monitor_status gauge",
    ]
    for mon in SAMPLE_MONITORS:
        lines.append(f"monitor_status{_labels(mon)} {_status(mon[0], 0)}")
    lines.append('app_version{version="2.5.3",major="2",minor="5",patch="3"} 1')
    return "\n".join(lines) + "\n"


def _page(slug: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for mid, name, mtype, _url, _host, _port, tags, group in SAMPLE_MONITORS:
        tag_list = [
            {"id": mid, "monitor_id": mid, "tag_id": 1, "value": v, "name": k, "color": "#2563EB"}
            for k, v in tags.items()
        ]
        groups.setdefault(group, []).append(
            {"id": mid, "name": name, "sendUrl": 0, "type": mtype, "tags": tag_list}
        )
    return {
        "config": {"slug": slug, "title": "Homelab", "showTags": True, "published": True},
        "incidents": [
            {
                "id": 1,
                "style": "warning",
                "title": "Grafana upgrade",
                "content": "Grafana is being upgraded; dashboards are unavailable for a while.",
                "pin": True,
                "active": True,
                "createdDate": _kuma_time(now_utc(), 35, ms=False),
                "lastUpdatedDate": None,
                "status_page_id": 1,
            },
        ],
        "publicGroupList": [
            {"id": i, "name": g, "weight": i, "monitorList": m}
            for i, (g, m) in enumerate(groups.items(), start=1)
        ],
        "maintenanceList": [
            {
                "id": 1,
                "title": "Printer firmware update",
                "active": True,
                "status": "under-maintenance",
            }
        ],
    }


def _kuma_time(now: datetime, minutes_ago: int, *, ms: bool = True) -> str:
    text = (now - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text[:-3] if ms else text[:-7]


def _heartbeats() -> dict[str, Any]:
    now = now_utc()
    beats: dict[str, list[dict[str, Any]]] = {}
    uptime: dict[str, float] = {}
    for mon in SAMPLE_MONITORS:
        mid = mon[0]
        items = []
        for ago in range(_BEATS - 1, -1, -1):
            status = _status(mid, ago)
            items.append(
                {
                    "status": status,
                    "time": _kuma_time(now, ago),
                    "msg": "",
                    "ping": _ping(mid, ago, status),
                }
            )
        beats[str(mid)] = items
        ups = sum(b["status"] == 1 for b in items)
        counted = sum(b["status"] != 3 for b in items)
        uptime[f"{mid}_24"] = ups / counted if counted else 1
    return {"heartbeatList": beats, "uptimeList": uptime}


def _json(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json; charset=utf-8", "cache-control": "no-cache"},
    )


def _handle(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if request.method != "GET":
        return httpx.Response(404, text="Not Found")
    if path == "/metrics":
        return httpx.Response(
            200,
            text=_metrics(),
            headers={"content-type": "text/plain; version=0.0.4; charset=utf-8"},
        )
    if path.startswith("/api/status-page/heartbeat/"):
        return _json(_heartbeats())
    if path.startswith("/api/status-page/") and path.count("/") == 3:
        return _json(_page(path.rsplit("/", 1)[1]))
    return _json({"status": "fail", "msg": "Not Found"}, 404)


def sample_transport() -> httpx.MockTransport:
    """The sample Kuma, served at ``SAMPLE_BASE_URL`` (no network)."""
    return httpx.MockTransport(_handle)
