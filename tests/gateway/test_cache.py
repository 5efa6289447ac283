"""The result cache: TTL, single flight, failures never cached."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cache import ResultCache


async def test_single_flight_then_hit_then_expiry() -> None:
    cache: ResultCache[int] = ResultCache()
    runs = 0
    now = [0.0]

    async def run() -> int:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return runs

    results = await asyncio.gather(
        *(cache.get_or_run("k", 10, lambda: now[0], run) for _ in range(50))
    )
    assert {value for value, _ in results} == {1}
    assert sorted(outcome for _, outcome in results).count("miss") == 1
    assert (await cache.get_or_run("k", 10, lambda: now[0], run)) == (1, "hit")
    now[0] = 11.0
    assert (await cache.get_or_run("k", 10, lambda: now[0], run)) == (2, "miss")


async def test_failures_reach_every_waiter_and_are_not_cached() -> None:
    cache: ResultCache[int] = ResultCache()
    calls = 0

    async def boom() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise RuntimeError("upstream down")

    results = await asyncio.gather(
        *(cache.get_or_run("k", 10, lambda: 0.0, boom) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results) and calls == 1
    with pytest.raises(RuntimeError):
        await cache.get_or_run("k", 10, lambda: 0.0, boom)
    assert calls == 2


async def test_size_is_bounded() -> None:
    cache: ResultCache[int] = ResultCache(max_entries=10)

    async def one() -> int:
        return 1

    for i in range(100):
        await cache.get_or_run(f"k{i}", 10, lambda: 0.0, one)
    assert len(cache._done) == 10
