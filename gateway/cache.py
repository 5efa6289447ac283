"""Result cache with TTL and single-flight: concurrent identical calls share one run.

The shared run is a task of its own, not the first caller's: a caller that goes away (client
gone, MCP cancel) stops waiting, and the others still get the result. The run is cancelled
only when nobody waits for it any more.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

__all__ = ["CacheOutcome", "CallCache", "ResultCache"]

V = TypeVar("V")
CacheOutcome = Literal["hit", "miss", "coalesced"]


class CallCache(Protocol[V]):
    """What the pipeline calls: this module's cache, or the replicas' shared one."""

    async def get_or_run(
        self, key: str, ttl: float, now: Callable[[], float], run: Callable[[], Awaitable[V]]
    ) -> tuple[V, CacheOutcome]: ...


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires: float


class _Flight(Generic[V]):
    """One shared run and how many callers wait for it."""

    __slots__ = ("key", "task", "waiters")

    def __init__(self, key: str) -> None:
        self.key = key
        self.task: asyncio.Task[V] | None = None
        self.waiters = 0


class ResultCache(Generic[V]):
    """An LRU of finished results plus the in-flight runs. Failures are never cached."""

    def __init__(self, max_entries: int = 2048) -> None:
        self._done: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._inflight: dict[str, _Flight[V]] = {}
        self._max = max_entries

    async def get_or_run(
        self, key: str, ttl: float, now: Callable[[], float], run: Callable[[], Awaitable[V]]
    ) -> tuple[V, CacheOutcome]:
        entry = self._done.get(key)
        if entry is not None:
            if entry.expires > now():
                self._done.move_to_end(key)
                return entry.value, "hit"
            del self._done[key]
        outcome: CacheOutcome = "coalesced"
        flight = self._inflight.get(key)
        if flight is None:
            flight = self._start(key, ttl, now, run)
            outcome = "miss"
        return await self._wait(flight), outcome

    def _start(
        self, key: str, ttl: float, now: Callable[[], float], run: Callable[[], Awaitable[V]]
    ) -> _Flight[V]:
        flight: _Flight[V] = _Flight(key)
        task = asyncio.get_running_loop().create_task(self._fly(key, flight, ttl, now, run))
        task.add_done_callback(_retrieve)
        flight.task = task
        self._inflight[key] = flight
        return flight

    async def _fly(
        self,
        key: str,
        flight: _Flight[V],
        ttl: float,
        now: Callable[[], float],
        run: Callable[[], Awaitable[V]],
    ) -> V:
        try:
            value = await run()
        finally:
            if self._inflight.get(key) is flight:
                del self._inflight[key]
        if ttl > 0:
            self._done[key] = _Entry(value, now() + ttl)
            while len(self._done) > self._max:
                self._done.popitem(last=False)
        return value

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


def _retrieve(task: asyncio.Task[object]) -> None:
    """Mark a failed run's exception retrieved: its waiters re-raise it, or nobody waited."""
    if not task.cancelled():
        task.exception()
