"""Injection corpus: no agent value changes the statement executed or the rows returned."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from capabilities.astro.ids import encode_session_id
from capabilities.astro.schemas import GetSessionArgs, ListSessionsArgs
from capabilities.astro.tools import get_session, list_sessions
from gateway.errors import NotFound
from tests.support.influxdb import InfluxServer

from .conftest import MakeCtx
from .generator import FIRST_NIGHT, HOSTILE, NIGHTS, Plan

LAST = FIRST_NIGHT + timedelta(days=NIGHTS - 1)
CORPUS = [
    *HOSTILE,
    "M31' OR '1'='1",
    'M31" OR "target" =~ /.*/',
    "M31; DROP DATABASE astro",
    "M31\nSELECT * FROM astro_frame",
    "$target",
    "/.*/",
    'M31") or r._measurement != "',
    "\\",
    "M31\\",
    "\x00",
    "' OR 1=1 --",
]


@pytest.fixture
async def recording(seeded_influx: InfluxServer) -> tuple[httpx.AsyncClient, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    async def record(request: httpx.Request) -> None:
        seen.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})

    client = httpx.AsyncClient(
        base_url=seeded_influx.url, auth=seeded_influx.reader, event_hooks={"request": [record]}
    )
    return client, seen


@pytest.mark.parametrize("payload", CORPUS)
async def test_target_payload_is_data(
    payload: str,
    make_ctx: MakeCtx,
    plan: Plan,
    recording: tuple[httpx.AsyncClient, list[dict[str, str]]],
) -> None:
    http, seen = recording
    async with http:
        ctx = make_ctx(http=http)
        baseline = await list_sessions.handler(
            ListSessionsArgs(start=FIRST_NIGHT, end=LAST, target="M31", limit=100), ctx
        )
        out = await list_sessions.handler(
            ListSessionsArgs(start=FIRST_NIGHT, end=LAST, target=payload, limit=100), ctx
        )
    want = {s.night for s in plan.sessions if s.target == payload}
    assert {i.night for i in out.items} == want
    assert {i.target for i in out.items} <= {payload}
    assert baseline.items  # the same statement finds M31 sessions
    first, second = seen
    assert first["q"] == second["q"]  # the statement is the template, whatever the value
    assert payload not in second["q"] or payload in first["q"]
    assert json.loads(second["params"])["target"] == payload


@pytest.mark.parametrize("payload", CORPUS)
async def test_session_id_payload_is_data(payload: str, make_ctx: MakeCtx, plan: Plan) -> None:
    sessions = [s for s in plan.sessions if s.target == payload]
    ctx = make_ctx()
    sid = encode_session_id(sessions[0].night if sessions else FIRST_NIGHT, payload)
    if not sessions:
        with pytest.raises(NotFound):
            await get_session.handler(GetSessionArgs(session_id=sid), ctx)
        return
    d = await get_session.handler(GetSessionArgs(session_id=sid), ctx)
    assert d.target == payload and d.frames == len(sessions[0].frames)


def test_hostile_names_survived_seeding(seeded_influx: InfluxServer) -> None:
    body = seeded_influx.query('SHOW TAG VALUES FROM "astro_frame" WITH KEY = "target"')
    values = {v[1] for v in body["results"][0]["series"][0]["values"]}
    assert set(HOSTILE) <= values
