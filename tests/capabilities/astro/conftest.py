"""Fixtures of the astro tests: a seeded real InfluxDB 1.x and hand-built tool contexts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from capabilities.astro.client import InfluxQLClient
from capabilities.astro.frames import AstroBackend
from capabilities.astro.schemas import AstroConfig, AstroScope
from gateway.capability import Principal, ToolContext
from tests.support.influxdb import InfluxServer, influxdb_server

from .generator import Plan, make_plan, wide_lines
from .nina import nina_lines

__all__ = ["influxdb_server", "make_capability_config"]

NOW = datetime(2024, 12, 1, 10, 0, tzinfo=UTC)


def make_capability_config(fake_url: str) -> dict[str, Any]:
    """Gateway settings fragment to run astro against a seeded server inside the full app.

    ``fake_url`` is the ``InfluxServer.url`` of the ``seeded_influx`` fixture; its read-only
    credentials are ``InfluxServer.reader`` (HTTP basic auth).
    """
    return {
        "upstreams": {"influxdb": {"base_url": fake_url}},
        "capabilities": {
            "astro": {"upstream": "influxdb", "database": "astro", "timezone": "Europe/Paris"}
        },
    }


@pytest.fixture(scope="session")
def plan() -> Plan:
    return make_plan()


@pytest.fixture(scope="session")
def seeded_influx(influxdb_server: InfluxServer, plan: Plan) -> InfluxServer:
    influxdb_server.write(wide_lines(plan))
    influxdb_server.write(nina_lines(plan), precision="ns")
    return influxdb_server


@pytest.fixture
async def reader_http(seeded_influx: InfluxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=seeded_influx.url, auth=seeded_influx.reader, timeout=30
    ) as client:
        yield client


MakeCtx = Callable[..., ToolContext]


@pytest.fixture
def make_ctx(reader_http: httpx.AsyncClient) -> MakeCtx:
    def make(
        scope: AstroScope | None = None,
        http: httpx.AsyncClient | None = None,
        **config: Any,
    ) -> ToolContext:
        cfg = AstroConfig(timezone="Europe/Paris", **config)
        client = InfluxQLClient(http or reader_http, cfg)
        return ToolContext(
            principal=Principal(sub="hermes", client_id="hermes", groups=("agents",)),
            request_id="test",
            now=NOW,
            scope=scope,
            config=cfg,
            clients={AstroBackend: AstroBackend(client)},
        )

    return make
