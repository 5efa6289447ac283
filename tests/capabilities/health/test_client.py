"""The client against the fake Uptime Kuma (a real HTTP server), for every recorded version."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from capabilities.health.client import KumaClient, KumaError
from tests.support.net import free_port

from .fake_kuma import FakeKuma
from .support import HANG_TIMEOUT, make_config, make_http


async def test_reads_every_source(version: str, http: httpx.AsyncClient) -> None:
    client = KumaClient(http, make_config())
    sources = await client.read_all()
    assert sources.failures == {}
    assert sources.metrics is not None
    names = {m.name for m in sources.metrics}
    assert "Paused Web" not in names  # paused monitors vanish from /metrics after a restart
    assert len(names) == 7
    by_name = {m.name: m for m in sources.metrics}
    tcp = by_name["TCP Web Port"]
    assert (tcp.hostname, tcp.port, tcp.url) == ("127.0.0.1", 3911, None)  # url "https://"
    assert by_name["Web Down (closed port)"].response_ms is None  # -1 means no ping
    assert by_name["Web Under Maintenance"].status == "maintenance"
    if version.startswith("1."):
        assert all(m.id is None and not m.tags for m in sources.metrics)
    else:
        assert by_name["Web OK"].id == 1
    if version == "2.5.3":
        assert by_name["Web OK"].tags == {"env=lab"}
        assert by_name["Web OK"].uptime == {"1d": 1, "30d": 1, "365d": 1}
        assert by_name["Backup Job (push)"].uptime == {}
    lab = sources.pages["lab"]
    assert [g.name for g in lab.groups] == ["Core services", "Problems"]
    assert lab.maintenance == ("Fixture maintenance",)
    assert lab.incidents == ()
    ops = sources.pages["ops"]
    assert [i.content for i in ops.incidents] == ["Backups are slow (test incident, fixture data)."]
    beats = sources.heartbeats["lab"].beats
    assert len(beats[7]) == 1 and beats[7][0].status == "down"
    assert all(a.time <= b.time for a, b in zip(beats[1], beats[1][1:], strict=False))
    assert sources.heartbeats["lab"].uptime_24h[5] == 0


@pytest.mark.parametrize("key", ["uk1_wrong", "not-a-key", ""])
async def test_wrong_key_is_an_auth_error(kuma_url: str, key: str) -> None:
    async with make_http(kuma_url, key=key) as http:
        client = KumaClient(http, make_config(status_pages=()))
        with pytest.raises(KumaError) as caught:
            await client.metrics()
    assert caught.value.kind == "auth"


async def test_rate_limit_answers_401_and_the_cache_keeps_us_under_it(
    fake: FakeKuma, http: httpx.AsyncClient
) -> None:
    fake.rate_limit = 3
    clock = [0.0]
    client = KumaClient(
        http, make_config(status_pages=(), metrics_ttl_seconds=10), clock=lambda: clock[0]
    )
    for _ in range(50):  # within one TTL: one upstream request
        await client.metrics()
    assert fake.requests["/metrics"] == 1
    for _ in range(2):
        clock[0] += 11
        await client.metrics()
    clock[0] += 11
    with pytest.raises(KumaError) as caught:  # the 4th request in a minute
        await client.metrics()
    assert caught.value.kind == "auth"
    for _ in range(20):  # the refusal is remembered for error_ttl: no hammering
        with pytest.raises(KumaError):
            await client.metrics()
    assert fake.requests["/metrics"] == 4


async def test_unknown_slug(version: str, fake: FakeKuma, http: httpx.AsyncClient) -> None:
    config = make_config(status_pages=("no-such-page",), request_timeout_seconds=HANG_TIMEOUT)
    client = KumaClient(http, config)
    with pytest.raises(KumaError) as caught:
        await client.status_page("no-such-page")
    if fake.hangs_on_unknown_slug:  # 1.23 never answers: our own deadline ends it
        assert caught.value.kind == "timeout"
    else:
        assert caught.value.kind == "not_found"
    beats = await client.heartbeats("no-such-page")  # answers normally on every version
    assert beats.beats == {} and beats.uptime_24h == {}


@pytest.mark.parametrize(
    "path", ["/metrics", "/api/status-page/lab", "/api/status-page/heartbeat/lab"]
)
@pytest.mark.parametrize("fault", ["garbage", "html", "500", "hang"])
async def test_faults(fake: FakeKuma, http: httpx.AsyncClient, path: str, fault: str) -> None:
    fake.faults[path] = fault
    config = make_config(status_pages=("lab",), request_timeout_seconds=HANG_TIMEOUT)
    client = KumaClient(http, config)
    sources = await client.read_all()
    source = "metrics" if path == "/metrics" else "page:lab"
    error = sources.failures[source]
    assert isinstance(error, KumaError)
    assert error.kind == ("timeout" if fault == "hang" else "bad_response")
    assert len(sources.failures) == 1  # the other source still answered
    assert "not { what" not in error.internal  # upstream bodies are not copied


async def test_connection_refused_is_unavailable() -> None:
    port = free_port()
    async with make_http(f"http://127.0.0.1:{port}") as http:
        client = KumaClient(http, make_config(status_pages=()))
        with pytest.raises(KumaError) as caught:
            await client.metrics()
    assert caught.value.kind == "unavailable"


async def test_100_concurrent_reads_make_one_request_per_source(
    fake: FakeKuma, http: httpx.AsyncClient
) -> None:
    client = KumaClient(http, make_config(status_pages=("lab", "ops")))
    results = await asyncio.gather(*(client.read_all() for _ in range(100)))
    assert all(r.failures == {} and r.metrics for r in results)
    assert dict(fake.requests) == {
        "/metrics": 1,
        "/api/status-page/lab": 1,
        "/api/status-page/heartbeat/lab": 1,
        "/api/status-page/ops": 1,
        "/api/status-page/heartbeat/ops": 1,
    }
    assert client.fetch_count == 5
