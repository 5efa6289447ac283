"""A small TTL cache with single-flight, for upstream reads that must stay rare.

Uptime Kuma answers ``/metrics`` with 401 once a client passes 60 requests a minute, so
identical concurrent calls share one request (single-flight), results are reused for a TTL,
and failures are remembered for a shorter TTL so a refused key is not hammered.

No task is spawned: the first caller (the leader) runs the fetch itself and publishes the
outcome on a future the others wait on. If the leader is cancelled, a waiter takes over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["TtlSingleFlight"]

T = TypeVar("T")


class _LeaderGone(Exception):
    """The caller doing the fetch was cancelled; a waiter retries."""


@dataclass(slots=True)
class _Entry(Generic[T]):
    expires: float
    value: T | None = None
    error: BaseException | None = None


class TtlSingleFlight(Generic[T]):
    """``await cache.get(key, fetch)``: at most one ``fetch`` per key in flight, results kept."""

    def __init__(
        self,
        ttl: float,
        *,
        error_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._error_ttl = error_ttl
        self._clock = clock
        self._entries: dict[str, _Entry[T]] = {}
        self._inflight: dict[str, asyncio.Future[T]] = {}
        #: Number of fetches actually started (what the upstream saw).
        self.fetches = 0

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        while True:
            entry = self._entries.get(key)
            if entry is not None and entry.expires > self._clock():
                if entry.error is not None:
                    raise entry.error.with_traceback(None)
                return entry.value  # type: ignore[return-value]
            pending = self._inflight.get(key)
            if pending is None:
                return await self._lead(key, fetch)
            try:
                return await asyncio.shield(pending)
            except _LeaderGone:
                continue
            except Exception as exc:  # shared object: drop the other callers' frames
                raise exc.with_traceback(None) from None

    async def _lead(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        self.fetches += 1
        try:
            value = await fetch()
        except asyncio.CancelledError:
            self._publish_error(future, _LeaderGone())
            raise
        except Exception as exc:
            if self._error_ttl > 0:
                self._entries[key] = _Entry(self._clock() + self._error_ttl, error=exc)
            self._publish_error(future, exc)
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        self._entries[key] = _Entry(self._clock() + self._ttl, value=value)
        future.set_result(value)
        return value

    @staticmethod
    def _publish_error(future: asyncio.Future[T], exc: BaseException) -> None:
        if not future.done():
            future.set_exception(exc)
            future.exception()  # mark retrieved: no "never retrieved" log when nobody waited

    def clear(self) -> None:
        self._entries.clear()
