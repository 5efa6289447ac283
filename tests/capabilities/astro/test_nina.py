"""The N.I.N.A. exporter's narrow layout on the real server: events joined to metrics."""

from __future__ import annotations

from datetime import timedelta

from capabilities.astro.ids import encode_session_id
from capabilities.astro.schemas import AstroScope, GetSessionArgs, ListSessionsArgs
from capabilities.astro.tools import get_session, list_sessions

from .conftest import MakeCtx
from .expect import actual_summary, expected_summary
from .generator import FIRST_NIGHT, Plan

LAST = FIRST_NIGHT + timedelta(days=29)


async def test_sessions_from_narrow_layout(make_ctx: MakeCtx, plan: Plan) -> None:
    ctx = make_ctx(layout="nina", nina={"rms_unit": "arcsec"})
    out = await list_sessions.handler(ListSessionsArgs(start=FIRST_NIGHT, end=LAST, limit=100), ctx)
    assert ctx.notes["statements"] == 1
    want = sorted(
        (expected_summary(s) for s in plan.sessions if s.night <= LAST),
        key=lambda d: (d["night"], d["target"]),
    )
    got = sorted((actual_summary(i) for i in out.items), key=lambda d: (d["night"], d["target"]))
    assert got == want


async def test_narrow_detail_joins_metrics(make_ctx: MakeCtx, plan: Plan) -> None:
    ctx = make_ctx(layout="nina")
    s = plan.sessions[0]
    d = await get_session.handler(
        GetSessionArgs(session_id=encode_session_id(s.night, s.target)), ctx
    )
    assert d.quality.hfr_min == min(f.hfr for f in s.frames if f.hfr is not None)
    assert d.quality.guiding_rms_unit == "px"
    temps = [f.temp for f in s.frames]
    assert (d.sensor_temp.min_c, d.sensor_temp.max_c) == (min(temps), max(temps))
    assert sum(c.frames for c in d.calibration) == len(plan.calibration.get(s.night, []))


async def test_narrow_scope(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(AstroScope(targets=["M42"]), layout="nina")
    out = await list_sessions.handler(ListSessionsArgs(start=FIRST_NIGHT, end=LAST, limit=100), ctx)
    assert out.items and {i.target for i in out.items} == {"M42"}
