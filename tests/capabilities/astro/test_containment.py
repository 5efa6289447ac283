"""Containment against the real influxd's rules: row limits, N.I.N.A. tags, paging, odd ids.

Each test names one class of issue 12 and was reproduced against Debian's influxd 1.6.7~rc0:

* ``max-row-limit`` cuts a non-chunked answer: the first series ends with ``"partial": true``
  on the series only, later series are missing with no flag at all;
* an N.I.N.A. image event's target is its ``target_name`` tag; the text is display only;
* a page trimmed by shaping resumes after the last item kept; a row cap never ends paging;
* a session id with a night InfluxDB cannot hold is an invalid argument (422).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest

from capabilities.astro.ids import encode_cursor, encode_session_id
from capabilities.astro.schemas import (
    AstroScope,
    GetSessionArgs,
    ListSessionsArgs,
    TargetTotalsArgs,
)
from capabilities.astro.tools import get_session, list_sessions, totals
from gateway.errors import InvalidArguments
from gateway.shaping import Shape
from tests.support.influxdb import InfluxServer, start_influxd

from .conftest import MakeCtx
from .expect import actual_summary, expected_summary
from .generator import FIRST_NIGHT, NIGHTS, TZ, Plan, _str_field, _tag, wide_lines
from .nina import nina_lines
from .paging import all_pages, session_key

LAST_NIGHT = FIRST_NIGHT + timedelta(days=NIGHTS - 1)
ROW_LIMIT = 1000  # a common max-row-limit in real installs


@pytest.fixture(scope="module")
def limited_influx(plan: Plan) -> Iterator[InfluxServer]:
    """A second real influxd with ``max-row-limit = 1000``, seeded with the same plan."""
    with start_influxd(max_row_limit=ROW_LIMIT) as server:
        server.write(wide_lines(plan))
        server.write(nina_lines(plan), precision="ns")
        yield server


@pytest.fixture
async def limited_http(limited_influx: InfluxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=limited_influx.url, auth=limited_influx.reader, timeout=30
    ) as client:
        yield client


def _plan_totals(plan: Plan, first: date, last: date) -> dict[str, tuple[float, int, int]]:
    want: dict[str, tuple[float, int, int]] = {}
    for s in plan.sessions:
        if first <= s.night <= last:
            i, n, k = want.get(s.target, (0.0, 0, 0))
            want[s.target] = (i + sum(f.exposure_s for f in s.frames), n + 1, k + len(s.frames))
    return want


def test_the_server_really_cuts_and_flags_only_the_series(limited_influx: InfluxServer) -> None:
    """The upstream rule the fixes rely on, checked on the real server."""
    body = limited_influx.query(
        'SELECT "value", "text" FROM "events", "image_hfr" WHERE time > 0', admin=False
    )
    result = body["results"][0]
    assert "partial" not in result and "partial" not in body
    rows = sum(len(s["values"]) for s in result["series"])
    assert rows == ROW_LIMIT
    assert [bool(s.get("partial")) for s in result["series"]] == [True]  # 2nd series: gone


async def test_row_limited_totals_are_complete(
    make_ctx: MakeCtx, limited_http: httpx.AsyncClient, plan: Plan
) -> None:
    ctx = make_ctx(http=limited_http)
    out = await totals.handler(TargetTotalsArgs(start=FIRST_NIGHT, end=LAST_NIGHT), ctx)
    got = {t.target: (t.integration_s, t.nights, t.frames) for t in out.items}
    assert got == _plan_totals(plan, FIRST_NIGHT, LAST_NIGHT)
    assert out.partial is False


async def test_row_limited_narrow_layout_is_complete(
    make_ctx: MakeCtx, limited_http: httpx.AsyncClient, plan: Plan
) -> None:
    ctx = make_ctx(http=limited_http, layout="nina", nina={"rms_unit": "arcsec"})
    last = FIRST_NIGHT + timedelta(days=29)
    out = await list_sessions.handler(ListSessionsArgs(start=FIRST_NIGHT, end=last, limit=100), ctx)
    want = sorted(
        (expected_summary(s) for s in plan.sessions if s.night <= last),
        key=lambda d: (d["night"], d["target"]),
    )
    got = sorted((actual_summary(i) for i in out.items), key=lambda d: (d["night"], d["target"]))
    assert got == want and out.partial is False


async def test_row_cap_below_the_data_is_flagged_never_silent(
    make_ctx: MakeCtx, limited_http: httpx.AsyncClient, plan: Plan
) -> None:
    ctx = make_ctx(http=limited_http, max_rows=300)
    out = await totals.handler(TargetTotalsArgs(start=FIRST_NIGHT, end=LAST_NIGHT), ctx)
    assert out.partial is True and ctx.partial is True


# --- N.I.N.A.: the tag decides -------------------------------------------------------------

MISMATCH_NIGHT = date(2025, 3, 10)


def _event(t: datetime, tag: str, text_target: str, exp: int = 300) -> list[str]:
    ns = int(t.timestamp()) * 10**9
    text = f"Image; Type: LIGHT, Target: {text_target}, Filter: Ha, Exp: {exp:.2f}s, Gain: 100"
    return [
        f'events,name=image,target_name={_tag(tag)} title="Image",text={_str_field(text)} {ns}',
        f"image_hfr,target_name={_tag(tag)} value=2.5 {ns + 3_000_000}",
    ]


@pytest.fixture(scope="module")
def mismatched_events(seeded_influx: InfluxServer) -> dict[str, int]:
    """Events whose text names another target than their tag, on a night no plan uses."""
    t = datetime.combine(MISMATCH_NIGHT, time(22, 0), tzinfo=TZ).astimezone(UTC)
    lines: list[str] = []
    counts = {"M31": 0, "Secret Comet": 0}
    for i in range(12):
        tag = "M31" if i % 3 == 0 else "Secret Comet"
        lines += _event(
            t + timedelta(seconds=310 * i), tag, "Secret Comet" if tag == "M31" else "M31"
        )
        counts[tag] += 1
    seeded_influx.write(lines, precision="ns")
    return counts


async def test_narrow_target_comes_from_the_tag_not_the_text(
    make_ctx: MakeCtx, mismatched_events: dict[str, int]
) -> None:
    ctx = make_ctx(AstroScope(targets=["M31"]), layout="nina")
    out = await list_sessions.handler(
        ListSessionsArgs(start=MISMATCH_NIGHT, end=MISMATCH_NIGHT), ctx
    )
    assert [(i.target, i.frames) for i in out.items] == [("M31", mismatched_events["M31"])]
    assert "Secret" not in out.model_dump_json()
    t = await totals.handler(TargetTotalsArgs(start=MISMATCH_NIGHT, end=MISMATCH_NIGHT), ctx)
    assert [(i.target, i.frames) for i in t.items] == [("M31", mismatched_events["M31"])]


async def test_narrow_target_argument_is_applied(
    make_ctx: MakeCtx, mismatched_events: dict[str, int]
) -> None:
    ctx = make_ctx(layout="nina")
    args = {"start": MISMATCH_NIGHT, "end": MISMATCH_NIGHT, "target": "M31"}
    out = await list_sessions.handler(ListSessionsArgs(**args), ctx)
    assert [(i.target, i.frames) for i in out.items] == [("M31", mismatched_events["M31"])]
    t = await totals.handler(TargetTotalsArgs(**args), ctx)
    assert [(i.target, i.frames) for i in t.items] == [("M31", mismatched_events["M31"])]
    d = await get_session.handler(
        GetSessionArgs(session_id=encode_session_id(MISMATCH_NIGHT, "M31")), ctx
    )
    assert d.frames == mismatched_events["M31"]


# --- paging ------------------------------------------------------------------------------


async def test_trimmed_page_resumes_after_the_last_item_kept(make_ctx: MakeCtx, plan: Plan) -> None:
    """A size cap that keeps ~3 of 10 items per page: following cursors still sees all."""
    seen = await all_pages(
        make_ctx(), start=FIRST_NIGHT, end=LAST_NIGHT, limit=10, shape_rule=Shape(max_chars=6000)
    )
    assert seen.trimmed_pages > 0
    assert sorted(seen.keys) == sorted(session_key(s) for s in plan.sessions)


async def test_policy_item_cap_resumes_after_the_last_item_kept(
    make_ctx: MakeCtx, plan: Plan
) -> None:
    seen = await all_pages(
        make_ctx(), start=FIRST_NIGHT, end=LAST_NIGHT, limit=10, shape_rule=Shape(max_items=4)
    )
    assert sorted(seen.keys) == sorted(session_key(s) for s in plan.sessions)


def _rows_per_night(plan: Plan) -> dict[date, int]:
    rows: dict[date, int] = {}
    for s in plan.sessions:
        rows[s.night] = rows.get(s.night, 0) + len(s.frames)
    return rows


async def test_row_cap_paging_reaches_every_session(make_ctx: MakeCtx, plan: Plan) -> None:
    """``max_rows`` far below the window: paging continues past every cut, each session once,
    also when a filter empties whole pages."""
    cap = max(_rows_per_night(plan).values()) + 1
    seen = await all_pages(make_ctx(max_rows=cap), start=FIRST_NIGHT, end=LAST_NIGHT, limit=5)
    assert sorted(seen.keys) == sorted(session_key(s) for s in plan.sessions)
    seen = await all_pages(
        make_ctx(max_rows=cap), start=FIRST_NIGHT, end=LAST_NIGHT, limit=5, filter="OIII"
    )
    want = [session_key(s) for s in plan.sessions if "OIII" in s.integration_by_filter]
    assert sorted(seen.keys) == sorted(want)


async def test_a_night_over_the_row_cap_is_flagged_and_paging_goes_on(
    make_ctx: MakeCtx, plan: Plan
) -> None:
    cap = 60
    rows = _rows_per_night(plan)
    assert any(n > cap for n in rows.values()) and any(n <= cap for n in rows.values())
    seen = await all_pages(make_ctx(max_rows=cap), start=FIRST_NIGHT, end=LAST_NIGHT, limit=5)
    assert len(seen.keys) == len(set(seen.keys))
    fits = sorted(session_key(s) for s in plan.sessions if rows[s.night] <= cap)
    assert sorted(k for k in seen.keys if rows[k[0]] <= cap) == fits
    assert seen.partial_pages > 0


# --- odd ids -----------------------------------------------------------------------------


@pytest.mark.parametrize("night", [date(9999, 12, 31), date(1, 1, 1), date(1969, 12, 31)])
async def test_session_id_with_an_extreme_night_is_invalid(make_ctx: MakeCtx, night: date) -> None:
    with pytest.raises(InvalidArguments):
        await get_session.handler(
            GetSessionArgs(session_id=encode_session_id(night, "M31")), make_ctx()
        )


async def test_cursor_with_an_extreme_night_is_invalid(make_ctx: MakeCtx) -> None:
    args = {"start": FIRST_NIGHT, "end": LAST_NIGHT, "limit": 3}
    first = await list_sessions.handler(ListSessionsArgs(**args), make_ctx())
    assert first.next_cursor is not None
    from capabilities.astro.ids import decode_cursor

    ctx = make_ctx()
    raw = ctx.open_cursor(first.next_cursor)  # reuse the fingerprint of a real cursor
    key = (date(9999, 12, 31), datetime(2024, 8, 1, tzinfo=UTC), "M31")
    bad = encode_cursor(ctx, key, raw["w"])  # sealed by the gateway, yet out of range
    with pytest.raises(InvalidArguments):
        decode_cursor(ctx, bad, raw["w"])
    with pytest.raises(InvalidArguments):
        await list_sessions.handler(ListSessionsArgs(**args, cursor=bad), make_ctx())


async def test_session_detail_under_a_row_cap_spent_on_calibration(
    make_ctx: MakeCtx, plan: Plan
) -> None:
    """The night's calibration frames are its newest rows: a cap they fill must not turn an
    existing session into 'not found'; the detail comes back marked partial."""
    s = next(p for p in plan.sessions if len(plan.calibration.get(p.night, [])) >= 10)
    ctx = make_ctx(max_rows=len(plan.calibration[s.night]))
    d = await get_session.handler(
        GetSessionArgs(session_id=encode_session_id(s.night, s.target)), ctx
    )
    assert d.target == s.target and d.partial is True
