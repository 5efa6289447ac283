"""Demo data: a season of imaging served in InfluxDB's own ``/query`` JSON format.

In sample mode the capability runs its real InfluxQL client over an ``httpx.MockTransport``
(base URL ``http://sample.invalid``). The handler below answers the capability's own wide
statements (time window, target, image type, policy regex, limit, selected columns), so the
demo exercises the same parsing and session logic as production, with no network.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from gateway.capability import SAMPLE_BASE_URL

from .mapping import WideMapping

__all__ = ["SAMPLE_URL", "sample_points", "sample_transport"]

SAMPLE_URL = SAMPLE_BASE_URL  # the gateway serves sample clients there
TARGETS = {
    "M31": ("L", "R", "G", "B", "Ha"),
    "M42": ("L", "R", "G", "B"),
    "NGC 7000": ("Ha", "OIII", "SII"),
    "IC 1805": ("Ha", "OIII"),
}
EXPOSURE = {
    "L": 120.0,
    "R": 120.0,
    "G": 120.0,
    "B": 120.0,
    "Ha": 300.0,
    "OIII": 300.0,
    "SII": 300.0,
}


def sample_points(today: date, nights: int = 60) -> list[dict[str, Any]]:
    """Deterministic rows (wide layout, default names) for the nights before ``today``."""
    rng = random.Random(7)  # noqa: S311 - demo data, not security
    rows: list[dict[str, Any]] = []
    names = sorted(TARGETS)
    for back in range(nights, 0, -1):
        night = today - timedelta(days=back)
        if rng.random() < 0.4:
            continue  # clouded out
        t = datetime(night.year, night.month, night.day, 20, 30, tzinfo=UTC)
        dawn = datetime(night.year, night.month, night.day, 4, 45, tzinfo=UTC) + timedelta(days=1)
        for target in rng.sample(names, k=rng.choice((1, 2))):
            for flt in TARGETS[target]:
                exp = EXPOSURE[flt]
                for _ in range(rng.randint(4, 12)):
                    if t + timedelta(seconds=exp) > dawn:
                        break
                    if rng.random() < 0.03:
                        t += timedelta(minutes=rng.randint(35, 80))  # clouds
                    rows.append(_light(t, target, flt, exp, rng))
                    t += timedelta(seconds=exp + 8)
        for i in range(10):
            rows.append(
                {
                    "time": t + timedelta(seconds=i * 310),
                    "image_type": "DARK",
                    "exposure_s": 300.0,
                    "camera": "ZWO ASI2600MM Pro",
                    "sensor_temp_c": -10.0,
                }
            )
    return rows


def _light(t: datetime, target: str, flt: str, exp: float, rng: random.Random) -> dict[str, Any]:
    return {
        "time": t,
        "image_type": "LIGHT",
        "target": target,
        "filter": flt,
        "exposure_s": exp,
        "hfr": round(rng.uniform(1.7, 3.2), 2),
        "stars": rng.randint(600, 2400),
        "guiding_rms_arcsec": round(rng.uniform(0.45, 1.2), 2),
        "sensor_temp_c": -10.0 + round(rng.uniform(-0.2, 0.3), 1),
        "camera": "ZWO ASI2600MM Pro",
        "file": f"D:/astro/{t:%Y-%m-%d}/{target}/{flt}/{target}_{flt}_{exp:.0f}s_{t:%H%M%S}.fits",
    }


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def sample_transport(m: WideMapping, today: date) -> httpx.MockTransport:
    rows = sample_points(today)
    names = {
        m.image_type_tag: "image_type",
        m.target_tag: "target",
        m.filter_tag: "filter",
        m.exposure_field: "exposure_s",
        m.hfr_field: "hfr",
        m.stars_field: "stars",
        m.rms_field: "guiding_rms_arcsec",
        m.sensor_temp_field: "sensor_temp_c",
        m.camera_tag: "camera",
        m.file_field: "file",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != "/query":
            return httpx.Response(404, text="404 page not found\n")
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        q, params = form.get("q", ""), json.loads(form.get("params", "{}"))
        cols = re.findall(r'"([^"]+)"', q.split(" FROM ", 1)[0])
        start, end = _time(params["start"]), _time(params["end"])
        regex = re.search(r"=~ /([^/]*)/", q)
        calibration = "<> $light" in q
        out = []
        for r in rows:
            if not start <= r["time"] < end:
                continue
            light = r["image_type"] == params["light"]
            ok = light and params.get("target", r.get("target")) == r.get("target")
            ok = ok and (regex is None or re.fullmatch(regex[1], r.get("target") or "") is not None)
            if ok or (calibration and not light):
                out.append(r)
        out.sort(key=lambda r: r["time"], reverse=True)
        out = out[: int(params["limit"])]
        values = [
            [int(r["time"].timestamp() * 1000), *(r.get(names.get(c) or "") for c in cols)]
            for r in out
        ]
        series = [{"name": m.measurement, "columns": ["time", *cols], "values": values}]
        result: dict[str, Any] = {"statement_id": 0}
        if values:
            result["series"] = series
        return httpx.Response(
            200, json={"results": [result]}, headers={"X-Influxdb-Version": "1.8.10"}
        )

    return httpx.MockTransport(handler)
