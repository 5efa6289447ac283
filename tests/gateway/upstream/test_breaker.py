"""The circuit breaker: unit state machine, then wired into the transport."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gateway.upstream import Breaker, BreakerState
from gateway.upstream.breaker import Permit
from tests.support.misbehaving import MisbehavingServer

from .conftest import Build, FakeClock, fast


def _state(breaker: Breaker) -> BreakerState:
    """Read the state through a call, so mypy does not narrow it across awaits and clocks."""
    return breaker.state


def test_opens_after_n_consecutive_failures(clock: FakeClock) -> None:
    breaker = Breaker(3, 30, clock=clock)
    for _ in range(2):
        assert breaker.acquire() is Permit.NORMAL
        breaker.failure()
    breaker.success()  # a success in between resets the count
    for _ in range(3):
        assert breaker.acquire() is Permit.NORMAL
        breaker.failure()
    assert _state(breaker) is BreakerState.OPEN
    assert breaker.acquire() is None


def test_half_open_lets_exactly_one_probe(clock: FakeClock) -> None:
    breaker = Breaker(1, 30, clock=clock)
    breaker.failure()
    clock.advance(29.9)
    assert breaker.acquire() is None
    clock.advance(0.1)
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert breaker.acquire() is Permit.PROBE
    assert breaker.acquire() is None  # second caller while the probe is out
    breaker.success()
    assert _state(breaker) is BreakerState.CLOSED
    assert breaker.acquire() is Permit.NORMAL


def test_failed_probe_reopens_for_a_full_period(clock: FakeClock) -> None:
    breaker = Breaker(5, 30, clock=clock)
    for _ in range(5):
        breaker.failure()
    clock.advance(30)
    assert breaker.acquire() is Permit.PROBE
    breaker.failure()
    assert _state(breaker) is BreakerState.OPEN
    clock.advance(29)
    assert breaker.acquire() is None
    clock.advance(1)
    assert breaker.acquire() is Permit.PROBE


def test_released_probe_frees_the_slot_but_a_stale_normal_permit_does_not(
    clock: FakeClock,
) -> None:
    breaker = Breaker(1, 30, clock=clock)
    breaker.failure()
    clock.advance(30)
    probe = breaker.acquire()
    assert probe is Permit.PROBE
    breaker.release(Permit.NORMAL)  # an old request that started while closed
    assert breaker.acquire() is None
    breaker.release(probe)
    assert breaker.acquire() is Permit.PROBE


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        Breaker(0, 30)
    with pytest.raises(ValueError):
        Breaker(1, 0)


async def test_transport_opens_then_half_opens(
    build: Build, misbehaving: MisbehavingServer, clock: FakeClock
) -> None:
    breaker = Breaker(2, 30, clock=clock)
    client = build(fast(misbehaving.url), breaker=breaker)
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await client.get("/500")
    assert _state(breaker) is BreakerState.OPEN
    with pytest.raises(UpstreamUnavailable) as info:
        await client.get("/ok")
    assert info.value.internal == "circuit breaker open"
    assert misbehaving.hits("/ok") == 0  # refused without contacting the upstream
    clock.advance(30)
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert (await client.get("/ok")).status_code == 200
    assert _state(breaker) is BreakerState.CLOSED
    assert misbehaving.hits("/ok") == 1


async def test_4xx_and_oversize_do_not_count_as_failures(
    build: Build, misbehaving: MisbehavingServer, clock: FakeClock
) -> None:
    breaker = Breaker(1, 30, clock=clock)
    client = build(fast(misbehaving.url, max_response_bytes=1024), breaker=breaker)
    await client.get("/status/404")
    with pytest.raises(UpstreamError):
        await client.get("/big", params={"size": 4096})
    with pytest.raises(UpstreamError):
        await client.get("/redirect")
    assert _state(breaker) is BreakerState.CLOSED


async def test_concurrent_callers_are_refused_while_the_probe_is_out(
    build: Build, misbehaving: MisbehavingServer, clock: FakeClock
) -> None:
    breaker = Breaker(1, 30, clock=clock)
    client = build(fast(misbehaving.url, read_timeout=0.5), breaker=breaker)
    with pytest.raises(UpstreamError):
        await client.get("/500")
    clock.advance(30)
    probe = asyncio.ensure_future(client.get("/hang"))
    while misbehaving.hits("/hang") == 0:
        await asyncio.sleep(0.01)
    with pytest.raises(UpstreamUnavailable):
        await client.get("/ok")
    with pytest.raises(UpstreamTimeout):
        await probe
    assert _state(breaker) is BreakerState.OPEN
    assert misbehaving.hits("/ok") == 0


async def test_cancelled_probe_does_not_wedge_the_breaker(
    build: Build, misbehaving: MisbehavingServer, clock: FakeClock
) -> None:
    breaker = Breaker(1, 30, clock=clock)
    client = build(fast(misbehaving.url), breaker=breaker)
    with pytest.raises(UpstreamError):
        await client.get("/500")
    clock.advance(30)
    probe = asyncio.ensure_future(client.get("/hang"))
    while misbehaving.hits("/hang") == 0:
        await asyncio.sleep(0.01)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert (await client.get("/ok")).status_code == 200
    assert _state(breaker) is BreakerState.CLOSED


async def test_connect_errors_open_the_breaker(build: Build, closed_port: int) -> None:
    client = build(fast(f"http://127.0.0.1:{closed_port}", retries=0, breaker={"failures": 2}))
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await client.get("/ok")
    with pytest.raises(UpstreamUnavailable) as info:
        await client.get("/ok")
    assert info.value.internal == "circuit breaker open"
    assert _state(client.breaker) is BreakerState.OPEN
