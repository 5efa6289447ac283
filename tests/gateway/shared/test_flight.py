"""The shared cache against a real redis-server: one run for identical calls across replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.shared.flight import SharedCache
from gateway.shared.settings import RedisSettings
from gateway.shared.store import SharedStore
from tests.support.redis import RedisServer


def _cache(store: SharedStore) -> SharedCache[dict[str, Any]]:
    return SharedCache(store, dict, dict, lock_seconds=0.6)


@pytest.fixture
async def stores(redis_server: RedisServer) -> AsyncIterator[list[SharedStore]]:
    out = []
    for _ in range(3):
        store = SharedStore(RedisSettings(url=redis_server.url, probe_interval_seconds=0.05))
        await store.start()
        out.append(store)
    yield out
    for store in out:
        await store.stop()


async def test_identical_calls_across_replicas_run_once(stores: list[SharedStore]) -> None:
    caches = [_cache(s) for s in stores]
    runs = 0
    started = asyncio.Event()

    async def run() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        started.set()
        await asyncio.sleep(0.3)
        return {"value": 42}

    calls = [caches[i % 3].get_or_run("k", 30, time.monotonic, run) for i in range(99)]
    results = await asyncio.gather(*calls)
    assert runs == 1
    assert all(value == {"value": 42} for value, _ in results)
    outcomes = [o for _, o in results]
    assert outcomes.count("miss") == 1
    assert set(outcomes) <= {"miss", "coalesced", "hit"}
    # Later: a hit from Redis, on any replica.
    assert await caches[2].get_or_run("k", 30, time.monotonic, run) == ({"value": 42}, "hit")
    assert runs == 1


async def test_a_failed_run_is_not_shared_and_the_next_caller_runs(
    stores: list[SharedStore],
) -> None:
    a, b = _cache(stores[0]), _cache(stores[1])
    runs = 0

    async def failing() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.1)
        raise RuntimeError("upstream down")

    async def working() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        return {"ok": True}

    first = asyncio.ensure_future(a.get_or_run("f", 30, time.monotonic, failing))
    await asyncio.sleep(0.02)
    second = asyncio.ensure_future(b.get_or_run("f", 30, time.monotonic, working))
    with pytest.raises(RuntimeError):
        await first
    assert await second == ({"ok": True}, "miss")
    assert runs == 2


async def test_a_leader_that_vanishes_is_taken_over(stores: list[SharedStore]) -> None:
    """A leader killed mid-run stops extending its lock; a follower runs once it ends."""
    key = stores[0].key("cache")
    a, b = _cache(stores[0]), _cache(stores[1])
    hung = asyncio.Event()

    async def hang() -> dict[str, Any]:
        hung.set()
        await asyncio.Event().wait()
        return {}

    leader = asyncio.ensure_future(a.get_or_run("v", 30, time.monotonic, hang))
    await hung.wait()
    await stores[0].stop()  # the leader's process is gone: nobody extends its lock
    leader.cancel()

    async def run() -> dict[str, Any]:
        return {"took": "over"}

    assert await b.get_or_run("v", 30, time.monotonic, run) == ({"took": "over"}, "miss")
    assert key.startswith("labgate:")


async def test_redis_away_runs_locally(
    redis_server: RedisServer, stores: list[SharedStore]
) -> None:
    cache = _cache(stores[0])
    runs = 0

    async def run() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        return {"n": runs}

    redis_server.kill()
    first = await cache.get_or_run("x", 30, time.monotonic, run)
    second = await cache.get_or_run("x", 30, time.monotonic, run)
    assert first == ({"n": 1}, "miss")
    assert second == ({"n": 1}, "hit")  # this process's own cache
    assert not stores[0].up
