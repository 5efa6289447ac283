"""Fixtures of the upstream-plumbing tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from gateway.telemetry import Telemetry
from gateway.upstream import Breaker, GuardedClient, UpstreamSettings, build_client
from tests.support.misbehaving import (  # noqa: F401  (fixtures)
    MisbehavingServer,
    closed_port,
    misbehaving,
    misbehaving_other,
)

Build = Callable[..., GuardedClient]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the attempts that reach the real transport (retries show up here)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport(retries=0, trust_env=False)
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def fast(base_url: str, **overrides: Any) -> UpstreamSettings:
    """Settings with short timeouts so failure tests finish quickly."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "total_timeout": 2.0,
    }
    values.update(overrides)
    return UpstreamSettings.model_validate(values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry()
    try:
        yield t
    finally:
        t.shutdown()


@pytest.fixture
async def build(telemetry: Telemetry) -> AsyncIterator[Build]:
    """``build(settings, name="svc", transport=None, breaker=None)``; clients closed after."""
    clients: list[GuardedClient] = []

    def make(
        settings: UpstreamSettings,
        *,
        name: str = "svc",
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: Breaker | None = None,
    ) -> GuardedClient:
        client = build_client(
            name, settings, transport=transport, telemetry=telemetry, breaker=breaker
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


__all__ = ["Build", "CountingTransport", "FakeClock", "MisbehavingServer", "fast"]
