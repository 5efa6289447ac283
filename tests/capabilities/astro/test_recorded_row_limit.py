"""The client on answers recorded from influxd 1.6.7~rc0 with ``max-row-limit = 5``
(``recorded/influxdb-1.6.7-max-row-limit.json``: 7 image events, 3 HFR points).

Replayed so the rule holds without a server: a plain answer is cut with the flag on the cut
series only; a chunked one carries every row, split over chunks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from capabilities.astro.client import InfluxQLClient
from capabilities.astro.schemas import AstroConfig

RECORDED = json.loads(
    (Path(__file__).parent / "recorded" / "influxdb-1.6.7-max-row-limit.json").read_text()
)


def _replay(honours_chunked: bool) -> httpx.MockTransport:
    plain, chunked = RECORDED["exchanges"]

    def handler(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        ex = chunked if honours_chunked and form.get("chunked") == "true" else plain
        return httpx.Response(
            ex["status"],
            content=ex["body"].encode(),
            headers={"Content-Type": ex["content_type"], "X-Influxdb-Version": RECORDED["server"]},
        )

    return httpx.MockTransport(handler)


async def _run(honours_chunked: bool) -> tuple[list[dict[str, Any]], bool]:
    async with httpx.AsyncClient(
        base_url="http://influx.test", transport=_replay(honours_chunked)
    ) as http:
        return await InfluxQLClient(http, AstroConfig()).run(RECORDED["statement"], {})


def _rows(series: list[dict[str, Any]]) -> dict[str, int]:
    return {s["name"]: len(s["values"]) for s in series}


async def test_chunked_answer_carries_every_row_and_is_complete() -> None:
    series, partial = await _run(honours_chunked=True)
    assert _rows(series) == {"image_hfr": 3, "events": 7}
    assert partial is False


async def test_a_cut_plain_answer_is_partial() -> None:
    series, partial = await _run(honours_chunked=False)
    assert sum(_rows(series).values()) == RECORDED["max_row_limit"]
    assert partial is True
