"""Shared limits against a real redis-server: global across replicas, fail closed when away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from gateway.policy.model import Limits
from gateway.shared.limits import LimitsUnavailable, SharedLimits
from gateway.shared.settings import RedisSettings
from gateway.shared.store import SharedStore
from tests.support.redis import RedisServer


async def _store(server: RedisServer) -> SharedStore:
    store = SharedStore(RedisSettings(url=server.url, probe_interval_seconds=0.05))
    await store.start()
    return store


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[list[SharedLimits]]:
    """Three replicas' limiters over one Redis."""
    stores = [await _store(redis_server) for _ in range(3)]
    yield [SharedLimits(s) for s in stores]
    for s in stores:
        await s.stop()


async def test_a_limit_of_k_allows_k_calls_across_all_replicas(
    replicas: list[SharedLimits],
) -> None:
    spec = Limits(rate="10/hour", burst=10)
    key = ("testcap", "rule", "sub-a")
    results = await asyncio.gather(
        *(replicas[i % 3].check([(key, spec)], time.monotonic()) for i in range(60))
    )
    assert sum(r is None for r in results) == 10
    refused = [r for r in results if r is not None]
    assert len(refused) == 50 and all(r > 0 for r in refused)
    # Another principal has its own bucket.
    assert await replicas[0].check([(("testcap", "rule", "sub-b"), spec)], 0.0) is None


async def test_a_refused_call_spends_no_later_bucket(replicas: list[SharedLimits]) -> None:
    tight, loose = Limits(rate="1/hour"), Limits(rate="5/hour")
    glob, rule = ("*", "s"), ("cap", "r", "s")
    assert await replicas[0].check([(glob, tight), (rule, loose)], 0.0) is None
    for r in replicas:
        assert await r.check([(glob, tight), (rule, loose)], 0.0) is not None
    # The rule's bucket gave one token only: four are left.
    allowed = [await replicas[1].check([(rule, loose)], 0.0) for _ in range(5)]
    assert sum(a is None for a in allowed) == 4


async def test_redis_away_fails_closed_unless_the_rule_says_local(
    redis_server: RedisServer, replicas: list[SharedLimits]
) -> None:
    guard, local = Limits(rate="100/hour"), Limits(rate="2/hour", fallback="local")
    assert await replicas[0].check([(("g",), guard)], 0.0) is None
    redis_server.kill()
    with pytest.raises(LimitsUnavailable):
        await replicas[0].check([(("g",), guard)], 0.0)
    assert replicas[0].store is not None and not replicas[0].store.up
    # Known away: the next call does not wait for Redis, it is refused at once.
    with pytest.raises(LimitsUnavailable):
        await replicas[0].check([(("g",), guard)], 0.0)
    # A local fallback counts in this replica's own bucket.
    assert await replicas[0].check([(("l",), local)], 0.0) is None
    assert await replicas[0].check([(("l",), local)], 0.0) is None
    assert await replicas[0].check([(("l",), local)], 0.0) is not None
    # One limit of the call failing closed refuses it, whatever the other says.
    with pytest.raises(LimitsUnavailable):
        await replicas[0].check([(("l2",), local), (("g",), guard)], 0.0)
    assert replicas[0].fallbacks == {"deny": 3, "local": 3}
    # No limit: nothing to check, nothing refused.
    assert await replicas[0].check([(("g",), None)], 0.0) is None
    redis_server.start()
    store = replicas[0].store
    await store.wait_up()
    assert await replicas[0].check([(("g",), guard)], 0.0) is None


async def test_without_redis_every_bucket_is_local() -> None:
    limits = SharedLimits()
    spec = Limits(rate="2/hour")
    assert [await limits.check([(("k",), spec)], 0.0) for _ in range(3)][2] is not None
