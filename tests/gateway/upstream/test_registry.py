"""The Upstreams container the app lifespan owns."""

from __future__ import annotations

import httpx
import pytest

from gateway.errors import ConfigError, UpstreamError
from gateway.telemetry import Telemetry
from gateway.upstream import UpstreamRegistry, Upstreams, UpstreamSettings

from .conftest import FakeClock


def _handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503 if request.url.path == "/down" else 200, json={})


async def test_clients_are_built_once_and_closed(clock: FakeClock) -> None:
    settings = {
        "influx": UpstreamSettings(base_url="http://influx.lan:8086"),
        "kuma": UpstreamSettings(base_url="http://kuma.lan/", breaker={"failures": 1}),
    }
    transports = {"influx": httpx.MockTransport(_handler), "kuma": httpx.MockTransport(_handler)}
    ups = Upstreams(settings, transports=transports, clock=clock)
    assert UpstreamRegistry is Upstreams
    assert ups.names() == ("influx", "kuma")
    first = ups.get("influx")
    assert ups.get("influx") is first
    assert ups.breaker_states() == {"influx": "closed", "kuma": "closed"}
    with pytest.raises(UpstreamError):
        await ups.get("kuma").get("/down")
    assert ups.breaker_states() == {"influx": "closed", "kuma": "open"}
    clock.advance(30)
    assert ups.breaker_states()["kuma"] == "half_open"
    await ups.aclose()
    assert first.is_closed
    with pytest.raises(RuntimeError):
        ups.get("influx")


def test_unknown_upstream_is_config_error() -> None:
    ups = Upstreams({})
    with pytest.raises(ConfigError) as info:
        ups.get("paperless")
    assert info.value.key == "upstreams.paperless"


@pytest.mark.parametrize("name", ["Influx", "1x", "a b", "a.b", ""])
def test_bad_names(name: str) -> None:
    with pytest.raises(ConfigError):
        Upstreams({name: UpstreamSettings(base_url="http://h/")})


async def test_build_all_fails_on_a_bad_secret(tmp_path: object) -> None:
    settings = UpstreamSettings.model_validate(
        {"base_url": "http://h/", "auth": {"scheme": "bearer", "secret_file": "/nonexistent/x"}}
    )
    ups = Upstreams({"svc": settings})
    with pytest.raises(ConfigError):
        ups.build_all()
    await ups.aclose()


async def test_breaker_states_feed_the_metric() -> None:
    telemetry = Telemetry()
    try:
        settings = {"kuma": UpstreamSettings(base_url="http://kuma.lan/", breaker={"failures": 1})}
        ups = Upstreams(
            settings, telemetry=telemetry, transports={"kuma": httpx.MockTransport(_handler)}
        )
        assert 'labgate_breaker_open{upstream="kuma"} 0.0' in telemetry.render()[0].decode()
        with pytest.raises(UpstreamError):
            await ups.get("kuma").get("/down")
        assert 'labgate_breaker_open{upstream="kuma"} 1.0' in telemetry.render()[0].decode()
        await ups.aclose()
    finally:
        telemetry.shutdown()
