"""The three tools against the fake Uptime Kuma (real HTTP), under scopes, for every version."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from capabilities.health.client import KumaClient
from capabilities.health.schemas import (
    GetServiceArgs,
    HealthConfig,
    HealthScope,
    ListServicesArgs,
    SummaryArgs,
)
from capabilities.health.tools import get_service, list_services, summary
from gateway.capability import Principal
from gateway.errors import InvalidArguments, NotFound, UpstreamError, UpstreamTimeout

from .fake_kuma import RECORDINGS, FakeKuma
from .support import HANG_TIMEOUT, RECORDED_AT, make_config, make_ctx, make_http

ALL = {
    "Web OK", "Web Keyword", "TCP Web Port", "Backup Job (push)", "Web Down (closed port)",
    "Keyword Missing", "Paused Web", "Web Under Maintenance",
}  # fmt: skip


async def _list(
    http: httpx.AsyncClient, version: str, *, config: HealthConfig | None = None,
    scope: HealthScope | None = None, **args: Any,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:  # fmt: skip
    config = config or make_config()
    ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version], scope=scope)
    out = await list_services.handler(ListServicesArgs(**args), ctx)
    return {s.name: s.model_dump(mode="json") for s in out.items}, ctx.notes


def _since(version: str, monitor_id: int) -> str:
    """The first beat of the newest run of equal statuses, read straight from the recording."""
    beats = json.loads((RECORDINGS / version / "status-page-heartbeat-lab.json").read_text())
    items = beats["heartbeatList"][str(monitor_id)]
    i = len(items) - 1
    while i > 0 and items[i - 1]["status"] == items[-1]["status"]:
        i -= 1
    when = datetime.fromisoformat(items[i]["time"].replace(" ", "T")).replace(tzinfo=UTC)
    return when.isoformat().replace("+00:00", "Z")


async def test_list_combined(version: str, http: httpx.AsyncClient) -> None:
    items, notes = await _list(http, version)
    assert set(items) == ALL
    assert notes == {}
    assert items["Web OK"]["status"] == "up"
    assert items["Web OK"]["groups"] == ["lab/Core services", "ops/Jobs"]
    assert items["Web OK"]["tags"] == ["env=lab"]
    assert items["Web Under Maintenance"]["status"] == "maintenance"
    paused = items["Paused Web"]  # its one beat (DOWN) came before the pause
    assert paused["status"] == "paused" and paused["stale"] is True
    assert paused["status_since"] is None and paused["last_check"] is not None
    assert not any(i["stale"] for n, i in items.items() if n != "Paused Web")
    down = items["Web Down (closed port)"]
    assert down["status_since"] == _since(version, 5) and down["since_is_lower_bound"] is True
    assert down["latency_ms"] is None
    missing = items["Keyword Missing"]
    assert missing["status"] == "down"
    assert missing["status_since"] == _since(version, 6)
    assert missing["since_is_lower_bound"] is False  # it was PENDING first
    assert (items["Web OK"]["uptime_30d"] == 1) is (version == "2.5.3")
    assert items["Web Down (closed port)"]["uptime_24h"] == 0
    text = json.dumps(items)
    for secret in ("127.0.0.1", "3911", "3919", "http://"):
        assert secret not in text
    assert all(
        i["url"] is None and i["hostname"] is None and i["port"] is None for i in items.values()
    )


async def test_show_addresses(version: str, http: httpx.AsyncClient) -> None:
    items, _ = await _list(http, version, scope=HealthScope(show_addresses=True))
    assert items["Web OK"]["url"] == "http://127.0.0.1:3911/"  # published by its page
    tcp = items["TCP Web Port"]
    if version.startswith("1."):  # /metrics has no id: a series is no page monitor's
        assert items["Web Down (closed port)"]["url"] is None
        assert (tcp["hostname"], tcp["port"], tcp["url"]) == (None, None, None)
    else:
        assert items["Web Down (closed port)"]["url"] == "http://127.0.0.1:3919/"
        assert (tcp["hostname"], tcp["port"], tcp["url"]) == ("127.0.0.1", 3911, None)
    assert items["Paused Web"]["url"] is None  # only ever published through /metrics


async def test_metrics_only(version: str, http: httpx.AsyncClient) -> None:
    config = make_config(status_pages=())
    items, _ = await _list(http, version, config=config)
    assert set(items) == ALL - {"Paused Web"}
    assert all(i["last_check"] is None and i["groups"] == [] for i in items.values())
    # /metrics tag labels are never a whole tag list (none before 2.1; on 2.1+ only tags that
    # existed at the server's start): a tag rule fails closed, exclusions too.
    for scope in (HealthScope(tags=["env"]), HealthScope(exclude_tags=["private"])):
        by_tag, notes = await _list(http, version, config=config, scope=scope)
        assert by_tag == {} and notes == {"scope_dropped": 7, "scope_tags_unknown": 7}
    by_group, _ = await _list(http, version, config=config, scope=HealthScope(groups=["*"]))
    assert by_group == {}


async def test_status_pages_only(version: str, http: httpx.AsyncClient) -> None:
    items, _ = await _list(http, version, config=make_config(metrics=False))
    assert set(items) == ALL
    assert items["Web Under Maintenance"]["status"] == "maintenance"
    assert items["Paused Web"]["stale"] is False  # 7 min old, under stale_after_seconds
    stale, _ = await _list(http, version, config=make_config(metrics=False, stale_after_seconds=60))
    assert stale["Paused Web"]["stale"] is True and stale["Web OK"]["stale"] is False


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (
            HealthScope(groups=["lab/core*"]),
            {"Web OK", "Web Keyword", "TCP Web Port", "Backup Job (push)"},
        ),
        (
            HealthScope(names=["web*"], exclude_names=["*down*", "*maint*"]),
            {"Web OK", "Web Keyword"},
        ),
        (HealthScope(tags=["env=lab"]), {"Web OK", "TCP Web Port"}),
        (HealthScope(exclude_tags=["env"]), ALL - {"Web OK", "TCP Web Port"}),
        (HealthScope(groups=["ops/*"], names=["backup*"]), {"Backup Job (push)"}),
        (HealthScope(names=[]), set()),
    ],
)
async def test_scopes(
    version: str, http: httpx.AsyncClient, scope: HealthScope, expected: set[str]
) -> None:
    items, notes = await _list(http, version, scope=scope)
    assert set(items) == expected
    assert notes.get("scope_dropped", 0) == len(ALL) - len(expected)


async def test_filters_and_pages(version: str, http: httpx.AsyncClient) -> None:
    down, _ = await _list(http, version, status="down")
    assert set(down) == {"Web Down (closed port)", "Keyword Missing"}
    paused, _ = await _list(http, version, status="paused")
    assert set(paused) == {"Paused Web"}
    jobs, _ = await _list(http, version, group="Jobs")
    assert set(jobs) == {"Web OK", "Backup Job (push)"}
    jobs2, _ = await _list(http, version, group="ops/jobs")
    assert jobs2 == jobs
    config = make_config()
    client = KumaClient(http, config)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        ctx = make_ctx(client, config, now=RECORDED_AT[version])
        page = await list_services.handler(ListServicesArgs(limit=3, cursor=cursor), ctx)
        seen += [s.name for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen, key=str.casefold) == seen and set(seen) == ALL and len(seen) == 8


async def test_a_cursor_opens_only_for_its_principal_and_tool(
    version: str, http: httpx.AsyncClient
) -> None:
    config = make_config()
    client = KumaClient(http, config)
    ctx = make_ctx(client, config, now=RECORDED_AT[version])
    ctx.tool = "health_list_services"
    first = await list_services.handler(ListServicesArgs(limit=3), ctx)
    assert first.next_cursor is not None
    again = await list_services.handler(ListServicesArgs(limit=3, cursor=first.next_cursor), ctx)
    assert again.items and again.items[0].name != first.items[0].name
    mallory = make_ctx(client, config, now=RECORDED_AT[version])
    mallory.tool, mallory.principal = ctx.tool, Principal(sub="mallory")
    other_tool = make_ctx(client, config, now=RECORDED_AT[version])
    other_tool.tool = "health_summary"
    body, _, tag = first.next_cursor.partition(".")
    minted = body + "." + tag[::-1]  # the same position with a tag the agent made up
    for who, cursor in (
        (mallory, first.next_cursor),
        (other_tool, first.next_cursor),
        (ctx, minted),
    ):
        with pytest.raises(InvalidArguments):
            await list_services.handler(ListServicesArgs(limit=3, cursor=cursor), who)


@pytest.mark.parametrize("cursor", ["!!!", "eyJ2IjoxfQ", "bnVsbA", "eyJ2IjoxLCJhIjoxLCJpIjoxfQ"])
async def test_bad_cursor(version: str, http: httpx.AsyncClient, cursor: str) -> None:
    with pytest.raises(InvalidArguments):
        await _list(http, version, cursor=cursor)


async def _get(
    http: httpx.AsyncClient, version: str, name: str, scope: HealthScope | None = None, n: int = 5
) -> dict[str, Any]:
    config = make_config()
    ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version], scope=scope)
    out = await get_service.handler(GetServiceArgs(name=name, heartbeats=n), ctx)
    return out.model_dump(mode="json")


async def test_get_service(version: str, http: httpx.AsyncClient) -> None:
    push = await _get(http, version, "backup job (PUSH)")
    assert push["name"] == "Backup Job (push)"
    assert [i["content"] for i in push["incidents"]] == [
        "Backups are slow (test incident, fixture data)."
    ]
    assert push["incidents"][0]["page"] == "ops" and push["incidents"][0]["style"] == "warning"
    beats = push["heartbeats"]
    assert len(beats) == 5 and [b["time"] for b in beats] == sorted(
        (b["time"] for b in beats), reverse=True
    )
    maint = await _get(http, version, "Web Under Maintenance", n=100)
    assert maint["maintenance"] == ["Fixture maintenance"]
    assert maint["heartbeats"][0]["status"] == "maintenance"
    assert len(maint["heartbeats"]) <= (50 if version.startswith("1.") else 100)
    paused = await _get(http, version, "Paused Web")
    assert paused["stale"] is True and len(paused["heartbeats"]) == 1


async def test_hidden_service_looks_like_a_missing_one(
    version: str, http: httpx.AsyncClient
) -> None:
    scope = HealthScope(exclude_names=["Web OK"])
    with pytest.raises(NotFound) as hidden:
        await _get(http, version, "Web OK", scope)
    with pytest.raises(NotFound) as missing:
        await _get(http, version, "No Such Service", scope)
    assert hidden.value.detail == missing.value.detail


async def test_summary(version: str, http: httpx.AsyncClient) -> None:
    config = make_config()
    ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version])
    out = (await summary.handler(SummaryArgs(), ctx)).model_dump(mode="json")
    assert out["total"] == 8
    assert out["counts"] == {
        "up": 4, "down": 2, "pending": 0, "maintenance": 1, "paused": 1, "unknown": 0
    }  # fmt: skip
    assert out["stale"] == 1
    problems = {p["name"]: p for p in out["problems"]}
    assert set(problems) == {"Web Down (closed port)", "Keyword Missing"}  # paused is no problem
    assert problems["Web Down (closed port)"]["since"] == _since(version, 5)
    assert [i["title"] for i in out["incidents"]] == ["Fixture incident"]
    ctx = make_ctx(
        KumaClient(http, config), config, now=RECORDED_AT[version],
        scope=HealthScope(groups=["lab/Problems"]),
    )  # fmt: skip
    scoped = await summary.handler(SummaryArgs(), ctx)
    assert scoped.total == 4 and scoped.incidents == []  # ops page holds no visible monitor


async def test_one_source_failing_gives_a_partial_answer(version: str, kuma_url: str) -> None:
    async with make_http(kuma_url, key="uk1_wrong") as http:
        items, notes = await _list(http, version)
    assert notes["sources_failed"] == ["metrics"]
    assert set(items) == ALL  # the status pages still answered


async def test_every_source_failing_raises_a_safe_error(version: str, kuma_url: str) -> None:
    config = make_config(status_pages=())
    async with make_http(kuma_url, key="uk1_wrong") as http:
        ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version])
        with pytest.raises(UpstreamError) as caught:
            await summary.handler(SummaryArgs(), ctx)
    assert caught.value.upstream == "uptime_kuma"
    assert "401" not in caught.value.detail and "401" in (caught.value.internal or "")


async def test_missing_status_page_times_out_or_is_reported(
    version: str, fake: FakeKuma, http: httpx.AsyncClient
) -> None:
    config = make_config(
        metrics=False, status_pages=("no-such-page",), request_timeout_seconds=HANG_TIMEOUT
    )
    ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version])
    expected = UpstreamTimeout if fake.hangs_on_unknown_slug else UpstreamError
    with pytest.raises(expected):
        await summary.handler(SummaryArgs(), ctx)


async def test_incident_text_is_scrubbed(
    version: str, fake: FakeKuma, http: httpx.AsyncClient
) -> None:
    page = json.loads((RECORDINGS / version / "status-page-ops.json").read_text())
    text = "Web Down (closed port) at http://127.0.0.1:3919/ and 127.0.0.1:3911 are flaky"
    if "incidents" in page:
        page["incidents"][0]["content"] = text
    else:
        page["incident"]["content"] = text
    from .fake_kuma import Reply

    fake.overrides["/api/status-page/ops"] = Reply(
        200, {"content-type": "application/json; charset=utf-8"}, json.dumps(page).encode()
    )
    got = await _get(http, version, "Web OK", HealthScope(exclude_names=["web down*"]))
    assert got["incidents"][0]["content"] == "[hidden] at [hidden] and [hidden] are flaky"


@pytest.mark.parametrize(("pages", "expected"), [((), 1), (("lab",), 3), (("lab", "ops"), 5)])
async def test_upstream_requests_per_100_concurrent_identical_calls(
    version: str, fake: FakeKuma, http: httpx.AsyncClient, pages: tuple[str, ...], expected: int
) -> None:
    """The figure: 100 concurrent identical calls cost one request per configured source."""
    import asyncio

    config = make_config(status_pages=pages)
    client = KumaClient(http, config)
    calls = [
        list_services.handler(
            ListServicesArgs(), make_ctx(client, config, now=RECORDED_AT[version])
        )
        for _ in range(100)
    ]
    results = await asyncio.gather(*calls)
    assert all(len(r.items) >= 7 for r in results)
    assert sum(fake.requests.values()) == expected
    assert fake.requests["/metrics"] == 1
