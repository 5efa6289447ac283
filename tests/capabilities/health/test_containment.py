"""Containment regressions, one per class, against the edge states recorded from real Uptime
Kuma 1.23.17 and 2.5.3 (``recordings/edge/``): tags /metrics cannot give, a page that does not
show tags, same-named monitors, a paused monitor, a tag listed twice, addresses and
credentials in incident text and in a monitor URL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
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

from .fake_kuma import RECORDINGS, FakeKuma, Reply
from .support import make_config, make_ctx, make_http

EDGE = RECORDINGS / "edge"
#: The scope of the shipped policy's hermes rule (policies/health.yaml).
SHIPPED = HealthScope(exclude_tags=["private"], exclude_names=["*vault*"])
PRIVATE = {"Vault", "Hidden On Page"}  # tagged private; "Web OK" id 2 too; 2.5.3: "Tag Twice"


def recorded_at(version: str) -> datetime:
    index = json.loads((EDGE / version / "index.json").read_text())
    return max(datetime.fromisoformat(r["recorded_at"]) for r in index["responses"])


@pytest.fixture(params=["1.23.17", "2.5.3"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(version: str) -> FakeKuma:
    return FakeKuma(version, fixture="edge")


@pytest.fixture
async def http(fake: FakeKuma) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http("http://kuma.test", transport=fake.transport()) as client:
        yield client


async def _call(
    http: httpx.AsyncClient, version: str, tool: Any, args: Any, *,
    config: HealthConfig, scope: HealthScope | None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    ctx = make_ctx(KumaClient(http, config), config, now=recorded_at(version), scope=scope)
    return await tool.handler(args, ctx), ctx.notes


async def _list(
    http: httpx.AsyncClient, version: str, *, config: HealthConfig | None = None,
    scope: HealthScope | None = None, **args: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    config = config or make_config(status_pages=("lab", "notags"))
    out, notes = await _call(
        http, version, list_services, ListServicesArgs(**args), config=config, scope=scope
    )
    return [s.model_dump(mode="json") for s in out.items], notes


async def test_exclude_tags_fail_closed_when_metrics_carry_no_tag_list(
    version: str, http: httpx.AsyncClient
) -> None:
    """1.23 has no tag labels; 2.5.3 has them only for tags a monitor had when it started
    ("Tag Twice" got ``private`` after the restart and has no such label)."""
    items, notes = await _list(http, version, config=make_config(status_pages=()), scope=SHIPPED)
    assert items == []
    assert notes["scope_tags_unknown"] == 5  # all but the name-excluded "Vault"


async def test_metrics_before_a_restart_carry_no_tags() -> None:
    """2.5.3 recorded before its first restart: tags created since start have no label."""
    fake = FakeKuma("2.5.3", fixture="edge")
    body = (EDGE / "2.5.3" / "metrics-before-restart.txt").read_bytes()
    fake.overrides["/metrics"] = Reply(200, {"content-type": "text/plain"}, body)
    async with make_http("http://kuma.test", transport=fake.transport()) as http:
        items, _ = await _list(http, "2.5.3", config=make_config(status_pages=()), scope=SHIPPED)
    assert items == []


async def test_page_without_tags_does_not_mean_no_tags(
    version: str, http: httpx.AsyncClient
) -> None:
    """``notags`` has showTags off: its monitors come without a ``tags`` key."""
    config = make_config(metrics=False, status_pages=("lab", "notags"))
    items, notes = await _list(http, version, config=config, scope=SHIPPED)
    assert "Hidden On Page" not in {i["name"] for i in items}
    assert notes["scope_tags_unknown"] == 1
    unscoped, _ = await _list(http, version, config=config)
    assert "Hidden On Page" in {i["name"] for i in unscoped}  # a tag rule hid it, nothing else


async def test_same_named_monitors_are_never_merged(version: str, http: httpx.AsyncClient) -> None:
    """Two "Web OK": id 1 (up, public) and id 2 (down, private, on no page). On 1.23 the only
    thing telling their series apart is the URL; the hidden twin must not lend its status."""
    items, _ = await _list(http, version, scope=SHIPPED)
    web_ok = [i for i in items if i["name"] == "Web OK"]
    assert [(i["status"], i["tags"]) for i in web_ok] == [("up", ["env=lab"])]
    config = make_config(status_pages=("lab", "notags"))
    out, _ = await _call(http, version, summary, SummaryArgs(), config=config, scope=SHIPPED)
    assert out.problems == []
    detail, _ = await _call(
        http, version, get_service, GetServiceArgs(name="Web OK"), config=config, scope=SHIPPED
    )
    assert detail.status == "up"


async def test_same_named_series_each_page_once(version: str, http: httpx.AsyncClient) -> None:
    """With /metrics alone, 1.23 gives two "Web OK" series without id: both are listed, and
    a client following cursors sees each once."""
    config = make_config(status_pages=())
    everything, _ = await _list(http, version, config=config, limit=100)
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        out, _ = await _call(
            http, version, list_services, ListServicesArgs(limit=1, cursor=cursor),
            config=config, scope=None,
        )  # fmt: skip
        assert len(out.items) == 1
        seen += [s.model_dump(mode="json") for s in out.items]
        cursor = out.next_cursor
        if cursor is None:
            break
    assert seen == everything
    assert [i["status"] for i in seen if i["name"] == "Web OK"] == ["up", "down"]


async def test_1_23_series_never_speak_for_a_same_named_page_monitor(
    version: str, http: httpx.AsyncClient
) -> None:
    """1.23: "Web OK" is once on the pages and twice in /metrics; neither series is taken as
    the page monitor's, and none is listed next to it (which one is which cannot be told)."""
    items, _ = await _list(http, version, scope=HealthScope(show_addresses=True))
    web_ok = [(i["status"], i["url"]) for i in items if i["name"] == "Web OK"]
    if version == "1.23.17":
        assert web_ok == [("up", None)]  # its own beats; its page does not publish its URL
    else:  # ids
        assert web_ok == [("up", "http://127.0.0.1:3911/"), ("down", "http://127.0.0.1:3919/")]


async def test_paused_monitor_is_paused_not_a_problem(
    version: str, http: httpx.AsyncClient
) -> None:
    """ "Paused Web" beat once (DOWN), then was paused: it has no series in /metrics."""
    items, _ = await _list(http, version, scope=SHIPPED)
    paused = next(i for i in items if i["name"] == "Paused Web")
    assert (paused["status"], paused["stale"]) == ("paused", True)
    config = make_config(status_pages=("lab", "notags"))
    out, _ = await _call(http, version, summary, SummaryArgs(), config=config, scope=SHIPPED)
    assert "Paused Web" not in {p.name for p in out.problems}
    assert out.counts.paused == 1


async def test_tag_listed_twice_is_one_tag(version: str, http: httpx.AsyncClient) -> None:
    """ "Tag Twice" has env=lab twice: the page lists it twice, 2.5.3 labels it ``lab,lab``."""
    items, _ = await _list(http, version, config=make_config(status_pages=()))
    twice = next(i for i in items if i["name"] == "Tag Twice")
    assert twice["tags"] == ([] if version == "1.23.17" else ["env=lab"])
    items, _ = await _list(http, version, scope=HealthScope(tags=["env=lab"]))
    twice = next(i for i in items if i["name"] == "Tag Twice")
    assert twice["tags"] == (["env=lab"] if version == "1.23.17" else ["env=lab", "private"])


async def test_incident_text_hides_addresses_and_credentials(
    version: str, http: httpx.AsyncClient
) -> None:
    """The recorded incident: an IPv4 address followed by a period, a bare IPv6 address and
    ``user:pass@host:port`` without a scheme."""
    config = make_config(status_pages=("lab", "notags"))
    out, _ = await _call(http, version, summary, SummaryArgs(), config=config, scope=SHIPPED)
    [incident] = out.incidents
    assert incident.title == "Router [hidden]."
    assert incident.content == "Moved to [hidden]. Also [hidden] and [hidden] are flaky"
    shown, _ = await _call(
        http, version, summary, SummaryArgs(), config=config,
        scope=HealthScope(show_addresses=True),
    )  # fmt: skip
    assert shown.incidents[0].content == "Moved to 10.0.0.1. Also fe80::1 and [hidden] are flaky"


async def test_credentials_are_never_shown(version: str, http: httpx.AsyncClient) -> None:
    """ "With Creds" checks ``http://kumauser:kumapass99@127.0.0.1:3911/?token=qs-secret``; its
    page publishes the URL (sendUrl) and /metrics carries it too."""
    scope = HealthScope(show_addresses=True)
    items, _ = await _list(http, version, scope=scope)
    creds = next(i for i in items if i["name"] == "With Creds")
    assert creds["url"] == "http://127.0.0.1:3911/"
    config = make_config(status_pages=("lab", "notags"))
    detail, _ = await _call(
        http, version, get_service, GetServiceArgs(name="With Creds"), config=config, scope=scope
    )
    out, _ = await _call(http, version, summary, SummaryArgs(), config=config, scope=scope)
    text = json.dumps(items) + detail.model_dump_json() + out.model_dump_json()
    for secret in ("kumauser", "kumapass99", "qs-secret", "hunter2"):
        assert secret not in text
