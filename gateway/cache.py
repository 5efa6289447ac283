"""The one TTL cache with single-flight: concurrent identical reads share one run.

Used by the pipeline for tool results (``cache_ttl`` of a rule) and offered to capabilities
through :mod:`gateway.capability` for upstream reads that must stay rare (Uptime Kuma answers
``/metrics`` with 401 past 60 requests a minute).

The shared run is a task of its own, not the first caller's: a caller that goes away (client
gone, MCP cancel, its own deadline) stops waiting, and the others still get the result. The
run is cancelled only when nobody waits for it any more; the next caller starts afresh.
Failures reach every waiter; they are remembered for ``error_ttl`` seconds (0: not at all),
so a refused credential is not hammered.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

__all__ = ["CacheOutcome", "CallCache", "ResultCache", "SingleFlight"]

V = TypeVar("V")
CacheOutcome = Literal["hit", "miss", "coalesced"]
Clock = Callable[[], float]


class CallCache(Protocol[V]):
    """What the pipeline calls: this module's cache, or the replicas' shared one."""

    async def get_or_run(
        self, key: str, ttl: float, now: Callable[[], float], run: Callable[[], Awaitable[V]]
    ) -> tuple[V, CacheOutcome]: ...


@dataclass(slots=True)
class _Entry(Generic[V]):
    expires: float
    value: V | None = None
    error: BaseException | None = None


class _Flight(Generic[V]):
    """One shared run and how many callers wait for it."""

    __slots__ = ("key", "task", "waiters")

    def __init__(self, key: str) -> None:
        self.key = key
        self.task: asyncio.Task[V] | None = None
        self.waiters = 0


class SingleFlight(Generic[V]):
    """An LRU of finished results (and, with ``error_ttl``, failures) plus the in-flight runs.

    ``await cache.get(key, fetch)`` uses the cache's own ``ttl`` and ``clock``;
    ``get_or_run(key, ttl, now, run)`` takes both per call and says how the value was found.
    """

    def __init__(
        self,
        ttl: float = 0.0,
        *,
        error_ttl: float = 0.0,
        clock: Clock = time.monotonic,
        max_entries: int = 2048,
    ) -> None:
        self._ttl = ttl
        self._error_ttl = error_ttl
        self._clock = clock
        self._max = max_entries
        self._done: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._inflight: dict[str, _Flight[V]] = {}
        #: Runs actually started (what the upstream saw).
        self.fetches = 0

    async def get(self, key: str, fetch: Callable[[], Awaitable[V]]) -> V:
        value, _ = await self.get_or_run(key, self._ttl, self._clock, fetch)
        return value

    async def get_or_run(
        self, key: str, ttl: float, now: Clock, run: Callable[[], Awaitable[V]]
    ) -> tuple[V, CacheOutcome]:
        entry = self._done.get(key)
        if entry is not None:
            if entry.expires > now():
                self._done.move_to_end(key)
                if entry.error is not None:
                    raise entry.error.with_traceback(None)
                return entry.value, "hit"  # type: ignore[return-value]
            del self._done[key]
        outcome: CacheOutcome = "coalesced"
        flight = self._inflight.get(key)
        if flight is None:
            flight = self._start(key, ttl, now, run)
            outcome = "miss"
        return await self._wait(flight), outcome

    def peek(self, key: str) -> V | None:
        """The finished result kept for ``key`` (expired or not), without running anything."""
        entry = self._done.get(key)
        return entry.value if entry is not None else None

    def invalidate(self, key: str) -> None:
        """Forget the finished result of ``key`` (a run in flight is not affected)."""
        self._done.pop(key, None)

    def clear(self) -> None:
        self._done.clear()

    def _start(
        self, key: str, ttl: float, now: Clock, run: Callable[[], Awaitable[V]]
    ) -> _Flight[V]:
        flight: _Flight[V] = _Flight(key)
        task = asyncio.get_running_loop().create_task(self._fly(key, flight, ttl, now, run))
        task.add_done_callback(_retrieve)
        flight.task = task
        self._inflight[key] = flight
        self.fetches += 1
        return flight

    async def _fly(
        self, key: str, flight: _Flight[V], ttl: float, now: Clock, run: Callable[[], Awaitable[V]]
    ) -> V:
        try:
            value = await run()
        except Exception as exc:
            if self._error_ttl > 0:
                self._keep(key, _Entry(now() + self._error_ttl, error=exc))
            raise
        finally:
            if self._inflight.get(key) is flight:
                del self._inflight[key]
        if ttl > 0:
            self._keep(key, _Entry(now() + ttl, value=value))
        return value

    def _keep(self, key: str, entry: _Entry[V]) -> None:
        self._done[key] = entry
        self._done.move_to_end(key)
        while len(self._done) > self._max:
            self._done.popitem(last=False)

    async def _wait(self, flight: _Flight[V]) -> V:
        """Wait for the shared run; the last waiter to leave early cancels it."""
        task = flight.task
        assert task is not None
        flight.waiters += 1
        try:
            return await asyncio.shield(task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not task.done():
                if self._inflight.get(flight.key) is flight:
                    del self._inflight[flight.key]  # a later caller starts afresh
                task.cancel()


#: The pipeline's name for it: the result cache of tool calls.
ResultCache = SingleFlight


def _retrieve(task: asyncio.Task[object]) -> None:
    """Mark a failed run's exception retrieved: its waiters re-raise it, or nobody waited."""
    if not task.cancelled():
        task.exception()
