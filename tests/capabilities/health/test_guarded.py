"""The capability over the gateway's guarded upstream client (what production uses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from capabilities.health.client import KumaClient
from capabilities.health.schemas import ListServicesArgs, SummaryArgs
from capabilities.health.tools import list_services, summary
from gateway.errors import UpstreamFailure
from gateway.upstream.client import build_client
from gateway.upstream.settings import UpstreamSettings

from .fake_kuma import FakeKuma
from .support import HANG_TIMEOUT, RECORDED_AT, make_capability_config, make_config, make_ctx


def _settings(kuma_url: str, secret: Path) -> UpstreamSettings:
    raw = make_capability_config(kuma_url, secret)["upstreams"]["uptime_kuma"]
    return UpstreamSettings.model_validate(raw)


async def test_guarded_client_reads_every_source(
    version: str, kuma_url: str, tmp_path: Path
) -> None:
    config = make_config()
    async with build_client("uptime_kuma", _settings(kuma_url, tmp_path / "key")) as http:
        ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version])
        out = await list_services.handler(ListServicesArgs(), ctx)
    assert len(out.items) == 8 and ctx.notes == {} and not out.partial


async def test_guarded_client_with_a_wrong_key(version: str, kuma_url: str, tmp_path: Path) -> None:
    settings = _settings(kuma_url, tmp_path / "key")
    (tmp_path / "key").write_text("uk1_wrong")
    config = make_config(status_pages=())
    async with build_client("uptime_kuma", settings) as http:
        ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version])
        with pytest.raises(UpstreamFailure) as caught:
            await summary.handler(SummaryArgs(), ctx)
    assert caught.value.upstream == "uptime_kuma"


async def test_guarded_client_and_a_hanging_page(
    version: str, fake: FakeKuma, kuma_url: str, tmp_path: Path
) -> None:
    fake.faults["/api/status-page/lab"] = "hang"
    config = make_config(status_pages=("lab",), request_timeout_seconds=HANG_TIMEOUT)
    async with build_client("uptime_kuma", _settings(kuma_url, tmp_path / "key")) as http:
        ctx = make_ctx(KumaClient(http, config), config, now=RECORDED_AT[version])
        out = await list_services.handler(ListServicesArgs(), ctx)
    assert out.partial and ctx.notes["sources_failed"] == ["page:lab"]
    assert len(out.items) == 7  # /metrics still answered
