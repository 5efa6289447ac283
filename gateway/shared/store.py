"""The connection to Redis, and whether it is there.

    store = SharedStore(settings.redis)
    await store.start()           # never fails because Redis is away
    async with store.use() as r:  # a redis.asyncio.Redis; raises SharedUnavailable at once
        ...                       # while Redis is known to be away, or when this command fails
    store.up, store.last_error    # for /readyz and /metrics

A failed command marks Redis away; from then on calls do not wait for it (each user falls back
at once: limits to their rule's ``fallback``, the cache to this process) while one background
probe PINGs every ``probe_interval_seconds`` and marks it back when it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.shared.settings import RedisSettings

__all__ = ["SharedStore", "SharedUnavailable"]

log = logging.getLogger("labgate.shared")


class SharedUnavailable(Exception):
    """Redis is away (known, or this command failed or timed out)."""


class SharedStore:
    """One Redis client for the process, with an up/away state and a reconnect probe."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self.prefix = settings.key_prefix
        self.up = False
        self.last_error: str | None = "not started"
        self.failures = 0
        self._client: aioredis.Redis | None = None
        self._probe: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Event] = []

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise SharedUnavailable("not started")
        return self._client

    async def start(self) -> None:
        s = self.settings
        self._client = aioredis.Redis.from_url(
            s.resolved_url(),
            socket_timeout=s.timeout_seconds,
            socket_connect_timeout=s.timeout_seconds,
            # One retry, at once, on a fresh connection: a pooled connection to a Redis that
            # restarted fails on first use. Timeouts are not retried.
            retry=Retry(NoBackoff(), 1),
            decode_responses=False,
            health_check_interval=0,
        )
        if not await self._ping():
            self._start_probe()

    async def stop(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    @asynccontextmanager
    async def use(self) -> AsyncIterator[aioredis.Redis]:
        """The client, for one unit of work; any Redis failure marks it away."""
        if not self.up or self._client is None:
            raise SharedUnavailable(self.last_error or "away")
        try:
            yield self._client
        except (RedisError, OSError, TimeoutError) as exc:
            self.mark_down(exc)
            raise SharedUnavailable(self.last_error or "away") from None

    def mark_down(self, exc: BaseException) -> None:
        self.failures += 1
        text = f"{type(exc).__name__}: {exc}"[:200]
        if self.up:
            log.warning("redis at %s is away: %s", _where(self.settings.url), text)
        self.up, self.last_error = False, text
        self._start_probe()

    async def wait_up(self) -> None:
        """Returns once Redis answers again (for tests and the bench)."""
        while not self.up:
            event = asyncio.Event()
            self._waiters.append(event)
            await event.wait()

    async def _ping(self) -> bool:
        try:
            await self.client.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            self.up, self.last_error = False, f"{type(exc).__name__}: {exc}"[:200]
            return False
        if not self.up:
            log.info("redis at %s is up", _where(self.settings.url))
        self.up, self.last_error = True, None
        for event in self._waiters:
            event.set()
        self._waiters.clear()
        return True

    def _start_probe(self) -> None:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(
                self._run_probe(), name="labgate-redis-probe"
            )

    async def _run_probe(self) -> None:
        while self._client is not None:
            await asyncio.sleep(self.settings.probe_interval_seconds)
            # Connections opened before Redis went away are dead: drop them all first.
            await self._client.connection_pool.disconnect()
            if await self._ping():
                return


def _where(url: str) -> str:
    return url.split("@")[-1].split("://")[-1]
