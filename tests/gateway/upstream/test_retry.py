"""Retries: only connection errors, only idempotent requests, with exponential backoff."""

from __future__ import annotations

import time

import httpx
import pytest

from gateway.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gateway.upstream import IDEMPOTENT_EXTENSION
from tests.support.misbehaving import MisbehavingServer

from .conftest import Build, CountingTransport, fast


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_idempotent_reads_are_retried_on_connect_errors(
    build: Build, closed_port: int, method: str
) -> None:
    counter = CountingTransport()
    client = build(fast(f"http://127.0.0.1:{closed_port}", retries=2), transport=counter)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        await client.request(method, "/ok")
    assert counter.attempts == 3
    assert time.monotonic() - started >= 0.1 + 0.2  # backoff 0.1 s * 2^n
    assert client.breaker.consecutive_failures == 1  # one request, one failure


async def test_post_is_not_retried(build: Build, closed_port: int) -> None:
    counter = CountingTransport()
    client = build(fast(f"http://127.0.0.1:{closed_port}", retries=2), transport=counter)
    with pytest.raises(UpstreamUnavailable):
        await client.post("/query", content=b"q")
    assert counter.attempts == 1


async def test_post_marked_idempotent_is_retried(build: Build, closed_port: int) -> None:
    counter = CountingTransport()
    client = build(fast(f"http://127.0.0.1:{closed_port}", retries=2), transport=counter)
    with pytest.raises(UpstreamUnavailable):
        await client.post("/query", content=b"q", extensions={IDEMPOTENT_EXTENSION: True})
    assert counter.attempts == 3


async def test_retry_then_success() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"n": attempts})

    from gateway.upstream import build_client

    async with build_client(
        "svc", fast("http://svc.lan"), transport=httpx.MockTransport(handler)
    ) as client:
        response = await client.get("/x")
    assert response.json() == {"n": 2}
    assert client.breaker.consecutive_failures == 0


async def test_5xx_and_timeouts_are_not_retried(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    counter = CountingTransport()
    client = build(fast(misbehaving.url, retries=3, read_timeout=0.3), transport=counter)
    with pytest.raises(UpstreamError):
        await client.get("/500")
    with pytest.raises(UpstreamTimeout):
        await client.get("/hang")
    assert counter.attempts == 2
    assert misbehaving.hits("/500") == 1 and misbehaving.hits("/hang") == 1


async def test_zero_retries(build: Build, closed_port: int) -> None:
    counter = CountingTransport()
    client = build(fast(f"http://127.0.0.1:{closed_port}", retries=0), transport=counter)
    with pytest.raises(UpstreamUnavailable):
        await client.get("/ok")
    assert counter.attempts == 1
