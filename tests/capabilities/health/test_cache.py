from __future__ import annotations

import asyncio

import pytest

from capabilities.health.cache import TtlSingleFlight


async def test_concurrent_callers_share_one_fetch_and_the_ttl_holds() -> None:
    clock = [0.0]
    cache: TtlSingleFlight[int] = TtlSingleFlight(10, clock=lambda: clock[0])
    gate = asyncio.Event()

    async def fetch() -> int:
        await gate.wait()
        return cache.fetches

    waiting = asyncio.gather(*(cache.get("k", fetch) for _ in range(100)))
    await asyncio.sleep(0)
    gate.set()
    assert await waiting == [1] * 100
    clock[0] = 9.9
    assert await cache.get("k", fetch) == 1
    clock[0] = 10.1
    assert await cache.get("k", fetch) == 2


async def test_a_cancelled_leader_hands_over_to_a_waiter() -> None:
    cache: TtlSingleFlight[str] = TtlSingleFlight(10)
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(3600)
        return "never"

    async def fast() -> str:
        return "fresh"

    leader = asyncio.ensure_future(cache.get("k", slow))
    await started.wait()
    waiter = asyncio.ensure_future(cache.get("k", fast))
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await waiter == "fresh"
    assert cache.fetches == 2


async def test_errors_are_shared_and_remembered_for_error_ttl() -> None:
    clock = [0.0]
    cache: TtlSingleFlight[int] = TtlSingleFlight(10, error_ttl=5, clock=lambda: clock[0])

    async def boom() -> int:
        await asyncio.sleep(0)
        raise ValueError("refused")

    results = await asyncio.gather(
        *(cache.get("k", boom) for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)
    with pytest.raises(ValueError):
        await cache.get("k", boom)
    assert cache.fetches == 1
    clock[0] = 6

    async def ok() -> int:
        return 7

    assert await cache.get("k", ok) == 7
    assert cache.fetches == 2
