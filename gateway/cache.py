"""Result cache with TTL and single-flight: concurrent identical calls share one run."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

__all__ = ["CacheOutcome", "ResultCache"]

V = TypeVar("V")
CacheOutcome = Literal["hit", "miss", "coalesced"]


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires: float


class ResultCache(Generic[V]):
    """An LRU of finished results plus the in-flight runs. Failures are never cached."""

    def __init__(self, max_entries: int = 2048) -> None:
        self._done: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[V]] = {}
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
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), "coalesced"
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await run()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(value)
            if ttl > 0:
                self._done[key] = _Entry(value, now() + ttl)
                while len(self._done) > self._max:
                    self._done.popitem(last=False)
            return value, "miss"
        finally:
            del self._inflight[key]
