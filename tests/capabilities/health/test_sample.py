"""Demo mode: the real client and parsers over the sample transport, no network."""

from __future__ import annotations

import json

import httpx

from capabilities.health import CAPABILITY, HealthConfig, HealthScope, KumaClient
from capabilities.health.sample import SAMPLE_BASE_URL
from capabilities.health.schemas import GetServiceArgs, ListServicesArgs, SummaryArgs
from capabilities.health.tools import get_service, list_services, summary
from gateway.capability import SampleClients, SetupContext, now_utc

from .support import make_ctx


def _no_network(name: str) -> httpx.AsyncClient:
    raise AssertionError("sample mode must not build a network client")


async def test_sample_mode_serves_every_tool() -> None:
    config = HealthConfig(status_pages=("homelab",))
    samples = SampleClients()  # what the gateway hands over, and closes
    resources = await CAPABILITY.setup(
        SetupContext(config=config, sample=True, http=_no_network, sample_http=samples)
    )
    client = resources.clients[KumaClient]
    assert isinstance(client, KumaClient)
    try:
        scope = HealthScope(exclude_tags=["private"])
        ctx = make_ctx(client, config, now=now_utc(), scope=scope)
        listed = await list_services.handler(ListServicesArgs(), ctx)
        names = {s.name for s in listed.items}
        assert "Grafana" in names and "Vault" not in names
        assert ctx.notes == {"scope_dropped": 1}
        text = listed.model_dump_json()
        assert "10.0." not in text and "lab.internal" not in text
        out = await summary.handler(SummaryArgs(), make_ctx(client, config, now=now_utc()))
        assert out.counts.down == 1 and out.counts.maintenance == 1 and out.counts.pending == 1
        assert [p.name for p in out.problems if p.status == "down"] == ["Grafana"]
        detail = await get_service.handler(
            GetServiceArgs(name="grafana"), make_ctx(client, config, now=now_utc())
        )
        assert detail.incidents and detail.heartbeats[0].status == "down"
        assert detail.status_since is not None and not detail.stale
    finally:
        await samples.aclose()


async def test_sample_metrics_alone_are_useful() -> None:
    config = HealthConfig()
    samples = SampleClients()  # what the gateway hands over, and closes
    resources = await CAPABILITY.setup(
        SetupContext(config=config, sample=True, http=_no_network, sample_http=samples)
    )
    try:
        client = resources.clients[KumaClient]
        out = await list_services.handler(
            ListServicesArgs(), make_ctx(client, config, now=now_utc(), scope=None)
        )
        assert len(out.items) == 11
        assert any(s.uptime_30d is not None for s in out.items)
        assert json.loads(out.model_dump_json())["items"][0]["url"] is None
    finally:
        await samples.aclose()
    assert SAMPLE_BASE_URL == "http://sample.invalid"
