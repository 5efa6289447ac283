"""The one TTL cache with single-flight: results shared, failures not cached (or, with
error_ttl, remembered briefly), a run nobody waits for cancelled."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cache import ResultCache, SingleFlight


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


async def test_followers_get_the_result_when_the_first_caller_is_cancelled() -> None:
    cache: ResultCache[str] = ResultCache()
    calls = 0
    started = asyncio.Event()
    release = asyncio.Event()

    async def upstream() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return "answer"

    first = asyncio.ensure_future(cache.get_or_run("k", 10, lambda: 0.0, upstream))
    await started.wait()
    followers = [
        asyncio.ensure_future(cache.get_or_run("k", 10, lambda: 0.0, upstream)) for _ in range(3)
    ]
    await asyncio.sleep(0)  # the followers join the shared run
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await asyncio.gather(*followers) == [("answer", "coalesced")] * 3
    assert calls == 1
    assert await cache.get_or_run("k", 10, lambda: 0.0, upstream) == ("answer", "hit")


async def test_a_run_nobody_waits_for_is_cancelled_and_a_new_caller_starts_afresh() -> None:
    cache: ResultCache[int] = ResultCache()
    calls = 0
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def upstream() -> int:
        nonlocal calls
        calls += 1
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    only = asyncio.ensure_future(cache.get_or_run("k", 10, lambda: 0.0, upstream))
    await started.wait()
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    await cancelled.wait()

    async def quick() -> int:
        return 7

    assert await cache.get_or_run("k", 10, lambda: 0.0, quick) == (7, "miss")
    assert calls == 1


# -- the same cache as capabilities use it: own TTL and clock, errors remembered -----------


async def test_concurrent_callers_share_one_fetch_and_the_ttl_holds() -> None:
    clock = [0.0]
    cache: SingleFlight[int] = SingleFlight(10, clock=lambda: clock[0])
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


async def test_a_cancelled_first_caller_leaves_the_fetch_to_the_others() -> None:
    cache: SingleFlight[str] = SingleFlight(10)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "shared"

    async def never() -> str:
        raise AssertionError("a second fetch while one is in flight")

    first = asyncio.ensure_future(cache.get("k", slow))
    await started.wait()
    waiter = asyncio.ensure_future(cache.get("k", never))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await waiter == "shared"
    assert cache.fetches == 1


async def test_errors_are_shared_and_remembered_for_error_ttl() -> None:
    clock = [0.0]
    cache: SingleFlight[int] = SingleFlight(10, error_ttl=5, clock=lambda: clock[0])

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


async def test_invalidate_forgets_one_key() -> None:
    cache: SingleFlight[int] = SingleFlight(10)
    runs = iter(range(1, 100))

    async def fetch() -> int:
        return next(runs)

    assert await cache.get("a", fetch) == 1
    assert await cache.get("b", fetch) == 2
    cache.invalidate("a")
    assert await cache.get("a", fetch) == 3
    assert await cache.get("b", fetch) == 2
