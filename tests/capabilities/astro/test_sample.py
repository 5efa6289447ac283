"""Demo mode: the real client and session logic over the sample transport."""

from __future__ import annotations

from datetime import timedelta

import httpx

from capabilities.astro import CAPABILITY
from capabilities.astro.schemas import (
    AstroConfig,
    AstroScope,
    GetSessionArgs,
    ListSessionsArgs,
    TargetTotalsArgs,
)
from capabilities.astro.tools import get_session, list_sessions, totals
from gateway.capability import Principal, SampleClients, SetupContext, ToolContext, now_utc


def _no_network(name: str) -> httpx.AsyncClient:
    raise AssertionError("sample mode must not build an upstream client")


async def test_sample_mode_serves_all_tools() -> None:
    cfg = AstroConfig(timezone="Europe/Paris", backend="flux")  # demo always uses InfluxQL
    samples = SampleClients()  # what the gateway hands over, and closes
    res = await CAPABILITY.setup(
        SetupContext(config=cfg, sample=True, http=_no_network, sample_http=samples)
    )
    try:
        ctx = ToolContext(
            Principal(sub="hermes"), "r", now_utc(), AstroScope(targets=["M*"]), cfg, res.clients
        )
        today = now_utc().date()
        out = await list_sessions.handler(
            ListSessionsArgs(start=today - timedelta(days=60), end=today, limit=5), ctx
        )
        assert out.items and {i.target for i in out.items} <= {"M31", "M42"}
        assert out.next_cursor is not None
        d = await get_session.handler(GetSessionArgs(session_id=out.items[0].id), ctx)
        assert d.frames == out.items[0].frames and d.calibration
        t = await totals.handler(TargetTotalsArgs(), ctx)
        assert {i.target for i in t.items} == {"M31", "M42"}
    finally:
        await samples.aclose()
