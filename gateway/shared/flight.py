"""The result cache and single-flight, shared by every replica through Redis.

    cache = SharedCache(store, encode, decode)
    value, outcome = await cache.get_or_run(key, ttl, now, run)   # as ResultCache

Identical calls in this process share one run (:class:`~gateway.cache.ResultCache`); that run
then takes part in the shared protocol, so identical calls across replicas reach the upstream
once:

1. ``GET`` the result key: there, a hit.
2. ``SET lock NX PX``: the replica that gets the lock runs the call, stores the result with the
   rule's TTL, and frees the lock. While it runs it extends the lock, so a leader killed
   mid-call leaves a lock that ends within ``lock_seconds`` and another replica takes over.
3. The others wait for the result key (polling every ``poll_seconds``); when the lock is gone
   without a result (the leader failed: failures are never cached) they race for it again.

A result stored in Redis never changes until it expires (failures are never stored), so a
replica keeps what it read or stored until the moment Redis expires it: later hits cost no
round trip, and no replica serves a result Redis would no longer serve.

Redis away (before or during any step): the call runs here, with this process's cache only —
a cache is not a guard, nothing fails because of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from gateway.cache import CacheOutcome, ResultCache
from gateway.shared.store import SharedStore, SharedUnavailable

__all__ = ["SharedCache"]

V = TypeVar("V")

# Delete the lock only when it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class SharedCache(Generic[V]):
    """A :class:`ResultCache` whose misses are single-flighted across replicas; see above."""

    def __init__(
        self,
        store: SharedStore | None,
        encode: Callable[[V], Any],
        decode: Callable[[Any], V],
        *,
        lock_seconds: float = 3.0,
        poll_seconds: float = 0.02,
        max_copies: int = 2048,
    ) -> None:
        self.store = store
        self._encode = encode
        self._decode = decode
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.local: ResultCache[V] = ResultCache()
        self._flights: ResultCache[tuple[V, CacheOutcome]] = ResultCache()
        #: Results read from (or stored in) Redis, until Redis expires them.
        self._copies: OrderedDict[str, tuple[V, float]] = OrderedDict()
        self._max_copies = max_copies

    async def get_or_run(
        self, key: str, ttl: float, now: Callable[[], float], run: Callable[[], Awaitable[V]]
    ) -> tuple[V, CacheOutcome]:
        store = self.store
        if store is None or not store.up:
            return await self.local.get_or_run(key, ttl, now, run)
        copy = self._copies.get(key)
        if copy is not None:
            if copy[1] > now():
                self._copies.move_to_end(key)
                return copy[0], "hit"
            del self._copies[key]
        # Local coalescing only (ttl 0): the stored result lives in Redis, one copy for all.
        (value, shared), local = await self._flights.get_or_run(
            key, 0, now, lambda: self._shared(store, key, ttl, now, run)
        )
        return value, shared if local == "miss" else local

    async def _shared(
        self,
        store: SharedStore,
        key: str,
        ttl: float,
        now: Callable[[], float],
        run: Callable[[], Awaitable[V]],
    ) -> tuple[V, CacheOutcome]:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        result_key, lock_key = store.key("cache", digest), store.key("cache", digest, "lock")
        try:
            outcome: CacheOutcome = "miss"
            while True:
                found, lock, pttl = await self._peek(store, result_key, lock_key)
                if found is not None:
                    value = self._keep_copy(key, found, pttl, now)
                    return value, outcome if outcome != "miss" else "hit"
                token = secrets.token_hex(16)
                if lock is None and await self._lock(store, lock_key, token):
                    value = await self._lead(store, result_key, lock_key, token, ttl, run)
                    self._remember(key, value, now() + ttl)
                    return value, "miss"
                outcome = "coalesced"
                found, pttl = await self._follow(store, result_key, lock_key)
                if found is not None:
                    return self._keep_copy(key, found, pttl, now), "coalesced"
        except SharedUnavailable:
            return await self.local.get_or_run(key, ttl, now, run)

    async def _peek(
        self, store: SharedStore, result_key: str, lock_key: str
    ) -> tuple[Any, Any, int]:
        """The stored result, the lock, and the result's remaining milliseconds."""
        async with store.use() as client:
            pipe = client.pipeline(transaction=False)
            pipe.mget([result_key, lock_key])
            pipe.pttl(result_key)
            (found, lock), pttl = await pipe.execute()
        return found, lock, int(pttl)

    def _keep_copy(self, key: str, found: Any, pttl: int, now: Callable[[], float]) -> V:
        value = self._decode(json.loads(found))
        if pttl > 0:
            self._remember(key, value, now() + pttl / 1000)
        return value

    def _remember(self, key: str, value: V, expires: float) -> None:
        self._copies[key] = (value, expires)
        self._copies.move_to_end(key)
        while len(self._copies) > self._max_copies:
            self._copies.popitem(last=False)

    async def _lock(self, store: SharedStore, lock_key: str, token: str) -> bool:
        async with store.use() as client:
            got = await client.set(lock_key, token, nx=True, px=self._lock_ms)
        return bool(got)

    @property
    def _lock_ms(self) -> int:
        return max(int(self.lock_seconds * 1000), 100)

    async def _lead(
        self,
        store: SharedStore,
        result_key: str,
        lock_key: str,
        token: str,
        ttl: float,
        run: Callable[[], Awaitable[V]],
    ) -> V:
        keeper = asyncio.get_running_loop().create_task(self._keep(store, lock_key, token))
        try:
            value = await run()
        except BaseException:
            keeper.cancel()
            await self._release_quietly(store, lock_key, token)
            raise
        keeper.cancel()
        try:
            async with store.use() as client:
                text = json.dumps(self._encode(value), separators=(",", ":"))
                await client.set(result_key, text, px=max(int(ttl * 1000), 1))
                await client.eval(_RELEASE, 1, lock_key, token)
        except SharedUnavailable:
            pass  # the result is still this call's; the others run it themselves
        return value

    async def _keep(self, store: SharedStore, lock_key: str, token: str) -> None:
        """Extend the lock while the leader runs (a killed leader's lock ends soon)."""
        while True:
            await asyncio.sleep(self.lock_seconds / 3)
            try:
                async with store.use() as client:
                    await client.eval(_EXTEND, 1, lock_key, token, str(self._lock_ms))
            except SharedUnavailable:
                return

    async def _release_quietly(self, store: SharedStore, lock_key: str, token: str) -> None:
        try:
            async with store.use() as client:
                await client.eval(_RELEASE, 1, lock_key, token)
        except SharedUnavailable:
            pass

    async def _follow(self, store: SharedStore, result_key: str, lock_key: str) -> tuple[Any, int]:
        """Wait for the leader: its result, or None once its lock is gone without one."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            found, lock, pttl = await self._peek(store, result_key, lock_key)
            if found is not None or lock is None:
                return found, pttl
