"""The astro tools against a real, seeded InfluxDB 1.x, read-only user, auth on."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from capabilities.astro.ids import encode_session_id
from capabilities.astro.schemas import (
    AstroScope,
    GetSessionArgs,
    ListSessionsArgs,
    TargetTotalsArgs,
)
from capabilities.astro.tools import get_session, list_sessions, totals
from gateway.errors import Denied, InvalidArguments, NotFound, UpstreamError
from tests.support.influxdb import InfluxServer

from .conftest import MakeCtx
from .expect import actual_summary, expected_summary
from .generator import FIRST_NIGHT, HOSTILE, NIGHTS, Plan

LAST_NIGHT = FIRST_NIGHT + timedelta(days=NIGHTS - 1)


async def _all_pages(ctx_factory: MakeCtx, **kw: Any) -> list[Any]:
    ctx = ctx_factory()
    items: list[Any] = []
    cursor, pages = None, 0
    while True:
        out = await list_sessions.handler(ListSessionsArgs(cursor=cursor, **kw), ctx)
        items += out.items
        pages += 1
        cursor = out.next_cursor
        if cursor is None:
            return items
        assert pages < 100


async def test_every_session_matches_the_plan(make_ctx: MakeCtx, plan: Plan) -> None:
    items = await _all_pages(make_ctx, start=FIRST_NIGHT, end=LAST_NIGHT, limit=100)
    got = sorted((actual_summary(i) for i in items), key=lambda d: (d["night"], d["target"]))
    want = sorted(
        (expected_summary(s) for s in plan.sessions), key=lambda d: (d["night"], d["target"])
    )
    assert len(got) == len(want) == len(plan.sessions)
    assert got == want


async def test_newest_first_and_pagination_is_disjoint(make_ctx: MakeCtx) -> None:
    items = await _all_pages(make_ctx, start=FIRST_NIGHT, end=LAST_NIGHT, limit=7)
    keys = [(i.night, i.first_frame) for i in items]
    assert keys == sorted(keys, reverse=True)
    assert len({i.id for i in items}) == len(items)


async def test_target_and_filter_arguments(make_ctx: MakeCtx, plan: Plan) -> None:
    ctx = make_ctx()
    out = await list_sessions.handler(
        ListSessionsArgs(start=FIRST_NIGHT, end=LAST_NIGHT, target="M31", limit=100), ctx
    )
    assert {i.night for i in out.items} == {s.night for s in plan.sessions if s.target == "M31"}
    assert {i.target for i in out.items} == {"M31"}
    out = await list_sessions.handler(
        ListSessionsArgs(start=FIRST_NIGHT, end=LAST_NIGHT, filter="OIII", limit=100), ctx
    )
    want = {(s.night, s.target) for s in plan.sessions if "OIII" in s.integration_by_filter}
    assert {(i.night, i.target) for i in out.items} == want
    assert ctx.notes["statements"] == 2  # one statement per call


async def test_get_session_detail(make_ctx: MakeCtx, plan: Plan) -> None:
    s = next(p for p in plan.sessions if p.cloud_minutes and p.night in plan.calibration)
    ctx = make_ctx()
    d = await get_session.handler(
        GetSessionArgs(session_id=encode_session_id(s.night, s.target)), ctx
    )
    assert ctx.notes["statements"] == 1
    assert d.frames == len(s.frames)
    assert {f.filter: f.frames for f in d.per_filter} == Counter(f.filter for f in s.frames)
    assert [g.lost_minutes for g in d.gaps] == [round(m + 10 / 60, 1) for m in s.cloud_minutes]
    temps = [f.temp for f in s.frames]
    assert (d.sensor_temp.min_c, d.sensor_temp.max_c) == (min(temps), max(temps))
    cal = Counter((f.image_type, f.filter, float(f.exposure_s)) for f in plan.calibration[s.night])
    assert {(c.image_type, c.filter, c.exposure_s): c.frames for c in d.calibration} == cal
    assert d.files_total == len(s.frames) and d.files[0] == s.frames[0].file
    assert d.camera == "ZWO ASI2600MM Pro SN123456"


async def test_get_unknown_session_is_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(NotFound):
        await get_session.handler(
            GetSessionArgs(session_id=encode_session_id(date(2024, 8, 1), "Nothing")), make_ctx()
        )


async def test_target_totals(make_ctx: MakeCtx, plan: Plan) -> None:
    ctx = make_ctx()
    out = await totals.handler(TargetTotalsArgs(start=FIRST_NIGHT, end=LAST_NIGHT), ctx)
    assert ctx.notes["statements"] == 1
    got = {t.target: (t.integration_s, t.nights, t.last_imaged) for t in out.items}
    want: dict[str, tuple[float, int, date]] = {}
    for s in plan.sessions:
        i, n, last = want.get(s.target, (0.0, 0, s.night))
        want[s.target] = (i + sum(f.exposure_s for f in s.frames), n + 1, max(last, s.night))
    assert got == want
    m31 = next(t for t in out.items if t.target == "M31")
    ha = sum(
        f.exposure_s
        for s in plan.sessions
        if s.target == "M31"
        for f in s.frames
        if f.filter == "Ha"
    )
    assert {f.filter: f.integration_s for f in m31.per_filter}["Ha"] == ha


async def test_totals_default_window_ends_at_current_night(make_ctx: MakeCtx) -> None:
    out = await totals.handler(TargetTotalsArgs(), make_ctx())
    assert out.last_night == date(2024, 11, 30)  # NOW is 2024-12-01 10:00 UTC: before noon
    assert (out.last_night - out.first_night).days == 364


async def test_scope_targets_pushed_and_checked(make_ctx: MakeCtx, plan: Plan) -> None:
    scope = AstroScope(targets=["M31", "NGC *"])
    ctx = make_ctx(scope)
    out = await list_sessions.handler(
        ListSessionsArgs(start=FIRST_NIGHT, end=LAST_NIGHT, limit=100), ctx
    )
    assert {i.target for i in out.items} == {"M31", "NGC 7000"}
    assert "scope_dropped" not in ctx.notes  # the query already excluded the rest
    with pytest.raises(Denied):
        await list_sessions.handler(
            ListSessionsArgs(start=FIRST_NIGHT, end=LAST_NIGHT, target=HOSTILE[0]), ctx
        )
    s = next(p for p in plan.sessions if p.target == "M42")
    with pytest.raises(Denied):
        await get_session.handler(GetSessionArgs(session_id=encode_session_id(s.night, "M42")), ctx)
    t = await totals.handler(TargetTotalsArgs(start=FIRST_NIGHT, end=LAST_NIGHT), ctx)
    assert {i.target for i in t.items} == {"M31", "NGC 7000"}


async def test_scope_window_and_session_caps(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(AstroScope(max_window_days=31, max_sessions=5))
    with pytest.raises(Denied) as e:
        await list_sessions.handler(ListSessionsArgs(start=FIRST_NIGHT, end=LAST_NIGHT), ctx)
    assert "31 nights" in e.value.detail
    with pytest.raises(Denied):
        await list_sessions.handler(
            ListSessionsArgs(start=FIRST_NIGHT, end=FIRST_NIGHT + timedelta(days=10), limit=6), ctx
        )
    with pytest.raises(Denied):
        await totals.handler(TargetTotalsArgs(start=FIRST_NIGHT, end=LAST_NIGHT), ctx)
    out = await totals.handler(TargetTotalsArgs(end=LAST_NIGHT), ctx)  # default clamps
    assert (out.last_night - out.first_night).days == 30


async def test_hidden_fields(make_ctx: MakeCtx, plan: Plan) -> None:
    ctx = make_ctx(AstroScope(hidden_fields=["file", "camera"]))
    s = plan.sessions[0]
    d = await get_session.handler(
        GetSessionArgs(session_id=encode_session_id(s.night, s.target)), ctx
    )
    assert d.files == [] and d.files_total == 0 and d.camera is None
    assert "fits" not in d.model_dump_json() and "SN123456" not in d.model_dump_json()


async def test_row_cap_gives_partial_with_complete_sessions(make_ctx: MakeCtx, plan: Plan) -> None:
    ctx = make_ctx(max_rows=400)
    out = await list_sessions.handler(
        ListSessionsArgs(start=FIRST_NIGHT, end=LAST_NIGHT, limit=100), ctx
    )
    assert out.partial is True and ctx.partial is True and out.next_cursor is not None
    want = {(s.night, s.target): expected_summary(s) for s in plan.sessions}
    for item in out.items:  # what is returned is complete, never a cut session
        assert actual_summary(item) == want[(item.night, item.target)]


async def test_cursor_is_validated(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    args = {"start": FIRST_NIGHT, "end": LAST_NIGHT, "limit": 3}
    out = await list_sessions.handler(ListSessionsArgs(**args), ctx)
    assert out.next_cursor
    for bad in ("x" * 8, out.next_cursor[:-2], "eyJ2IjoxfQ", out.next_cursor + "A"):
        with pytest.raises(InvalidArguments):
            await list_sessions.handler(ListSessionsArgs(**args, cursor=bad), ctx)
    with pytest.raises(InvalidArguments):  # a cursor of another query
        await list_sessions.handler(
            ListSessionsArgs(start=FIRST_NIGHT, end=LAST_NIGHT, limit=4, cursor=out.next_cursor),
            ctx,
        )


async def test_wrong_credentials_map_to_upstream_error(
    make_ctx: MakeCtx, seeded_influx: InfluxServer
) -> None:
    async with httpx.AsyncClient(base_url=seeded_influx.url, auth=("labgate_reader", "no")) as h:
        with pytest.raises(UpstreamError) as e:
            await totals.handler(TargetTotalsArgs(), make_ctx(http=h))
    assert e.value.internal is not None and "credentials rejected" in e.value.internal
    assert "authorization" not in e.value.detail


async def test_missing_database_maps_to_upstream_error(make_ctx: MakeCtx) -> None:
    with pytest.raises(UpstreamError) as e:
        await totals.handler(TargetTotalsArgs(), make_ctx(database="nope"))
    assert "nope" not in e.value.detail


def test_reader_is_read_only(seeded_influx: InfluxServer) -> None:
    for q in (
        "DROP MEASUREMENT astro_frame",
        "SHOW USERS",
        'SELECT * INTO "copy" FROM "astro_frame"',
    ):
        assert seeded_influx.query(q, admin=False)["_status"] == 403
    r = httpx.post(
        f"{seeded_influx.url}/write",
        params={"db": "astro"},
        content=b"astro_frame exposure_s=1 1",
        auth=seeded_influx.reader,
    )
    assert r.status_code == 403


async def test_ninety_day_listing_is_one_statement(make_ctx: MakeCtx) -> None:
    """A 90-day window is one statement. Its time is reported (``-s``), not asserted: speed is
    measured in bench/, never as a timed test."""
    ctx = make_ctx()
    start = LAST_NIGHT - timedelta(days=89)
    t0 = time.perf_counter()
    out = await list_sessions.handler(ListSessionsArgs(start=start, end=LAST_NIGHT, limit=100), ctx)
    elapsed = time.perf_counter() - t0
    assert out.items and not out.partial and ctx.notes["statements"] == 1
    print(f"90-day listing: {elapsed * 1000:.0f} ms, {len(out.items)} sessions")
