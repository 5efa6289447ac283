"""Property: for generated upstream states on a real influxd with a small ``max-row-limit``,
through the gateway's shaping and following cursors like a client:

* nothing out of scope appears (targets of other rules, targets named only by event text);
* every in-scope session of a night the row cap can hold is seen exactly once, complete;
  a night over the cap is seen at most once and only on a page marked partial;
* totals are either exactly the oracle's or marked partial, never silently wrong.

The generated cases and the leaks found are counted in ``FIGURES`` and printed (``-s``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from capabilities.astro.client import InfluxQLClient
from capabilities.astro.frames import AstroBackend
from capabilities.astro.schemas import (
    AstroConfig,
    AstroScope,
    GetSessionArgs,
    ListSessionsArgs,
    TargetTotalsArgs,
)
from capabilities.astro.tools import get_session, list_sessions, totals
from gateway.capability import Principal, ToolContext
from gateway.errors import Denied
from gateway.shaping import Shape, shape
from tests.support.influxdb import InfluxServer, start_influxd

from .upstream_state import TARGETS, GenState, Oracle, states

ROW_LIMIT = 20  # the server's max-row-limit: far below most states
NOW = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
FIGURES = {"cases": 0, "leaks": 0, "partial_totals": 0, "pages": 0}
CURSOR_FIELDS = ("resume_cursor", "next_cursor", "id")


@pytest.fixture(scope="module")
def row_limited() -> Iterator[InfluxServer]:
    with start_influxd(max_row_limit=ROW_LIMIT) as server:
        yield server
    print(f"\nastro property: {FIGURES}")


def _ctx(s: GenState, http: httpx.AsyncClient) -> ToolContext:
    cfg = AstroConfig(timezone="Europe/Paris", layout=s.layout, max_rows=s.max_rows, **s.mapping())
    scope = AstroScope(targets=list(s.scope)) if s.scope is not None else None
    return ToolContext(
        principal=Principal(sub="hermes", client_id="hermes", groups=("agents",)),
        request_id="prop",
        now=NOW,
        scope=scope,
        config=cfg,
        clients={AstroBackend: AstroBackend(InfluxQLClient(http, cfg))},
    )


def _visible(result: dict[str, Any]) -> str:
    """The answer's text without opaque tokens (base64 could spell anything)."""

    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in CURSOR_FIELDS}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(result), ensure_ascii=False)


def _leak(o: Oracle, result: dict[str, Any]) -> bool:
    text = _visible(result)
    return any(name in text for name in o.out_of_scope_names())


async def _pages(s: GenState, o: Oracle, ctx: ToolContext) -> list[tuple[dict[str, Any], bool]]:
    rule = Shape(max_items=s.max_items, max_chars=s.max_chars or 50_000)
    first, last = s.nights
    seen: list[tuple[dict[str, Any], bool]] = []
    cursor = None
    for _ in range(500):
        out = await list_sessions.handler(
            ListSessionsArgs(
                start=first,
                end=last,
                target=s.target_arg,
                filter=s.filter_arg,
                limit=s.page,
                cursor=cursor,
            ),
            ctx,
        )
        shaped, partial = shape(out.model_dump(mode="json"), rule)
        FIGURES["pages"] += 1
        FIGURES["leaks"] += _leak(o, shaped)
        seen += [(item, partial) for item in shaped["items"]]
        cursor = shaped["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("paging does not end")


def _check_listing(o: Oracle, seen: list[tuple[dict[str, Any], bool]]) -> None:
    want = o.listed()
    keys = [(date.fromisoformat(i["night"]), i["target"]) for i, _ in seen]
    assert len(keys) == len(set(keys)), "a session was served twice"
    assert set(keys) <= set(want), "a session out of scope or of no stored tag"
    for item, partial in seen:
        key = (date.fromisoformat(item["night"]), item["target"])
        if o.rows(key[0]) <= o.s.max_rows:
            frames = want[key]
            assert (item["frames"], item["integration_s"]) == (
                len(frames),
                float(sum(f.exposure_s for f in frames)),
            )
        else:
            assert partial, "a session of a night over the row cap was not marked partial"
    fits = {k for k in want if o.rows(k[0]) <= o.s.max_rows}
    assert fits <= set(keys), f"sessions never served: {sorted(fits - set(keys))}"


async def _check_totals(s: GenState, o: Oracle, ctx: ToolContext) -> None:
    first, last = s.nights
    out = await totals.handler(TargetTotalsArgs(start=first, end=last, target=s.target_arg), ctx)
    result = out.model_dump(mode="json")
    FIGURES["leaks"] += _leak(o, result)
    got = {t.target: (t.integration_s, t.nights, t.frames) for t in out.items}
    if out.partial:
        FIGURES["partial_totals"] += 1
        assert set(got) <= set(o.totals())
    else:
        assert got == o.totals(), "totals not marked partial yet wrong"


async def _check_details(o: Oracle, ctx: ToolContext, items: list[dict[str, Any]]) -> None:
    for item in items:
        d = await get_session.handler(GetSessionArgs(session_id=item["id"]), ctx)
        FIGURES["leaks"] += _leak(o, d.model_dump(mode="json"))
        if not d.partial:
            frames = o.sessions()[(d.night, d.target)]
            assert d.frames == len(frames)


async def _check_denials(s: GenState, o: Oracle, ctx: ToolContext) -> None:
    first, last = s.nights
    for name in o.out_of_scope_names():
        if s.target_arg is None and s.scope is not None:
            with pytest.raises(Denied):
                await list_sessions.handler(
                    ListSessionsArgs(start=first, end=last, target=name), ctx
                )


async def _run(server: InfluxServer, s: GenState) -> None:
    server.write(s.lines(), precision="ns")
    o = Oracle(s)
    async with httpx.AsyncClient(base_url=server.url, auth=server.reader, timeout=30) as http:
        ctx = _ctx(s, http)
        seen = await _pages(s, o, ctx)
        _check_listing(o, seen)
        await _check_totals(s, o, ctx)
        await _check_details(o, ctx, [i for i, _ in seen[:3]])
        await _check_denials(s, o, ctx)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(state=states())
def test_generated_states_stay_contained(row_limited: InfluxServer, state: GenState) -> None:
    FIGURES["cases"] += 1
    leaks = FIGURES["leaks"]
    asyncio.run(_run(row_limited, state))
    assert FIGURES["leaks"] == leaks, "out-of-scope text in an answer"


def test_targets_are_distinct_words() -> None:
    """The leak check searches names as text: none may contain another."""
    assert not any(a != b and a in b for a in TARGETS for b in TARGETS)
