"""A monotonic clock and an ``asyncio.sleep`` that move only when the test says so.

time = FakeTime()
thing = Thing(clock=time.clock, sleep=time.sleep)
await time.advance(30)   # wakes every sleeper whose deadline has come, lets them run
"""

from __future__ import annotations

import asyncio

__all__ = ["FakeTime"]


class FakeTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        await future

    @property
    def sleepers(self) -> int:
        return sum(1 for _, f in self._sleepers if not f.done())

    async def settle(self) -> None:
        """Let every runnable task run until all are blocked again."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move the clock in small steps, waking sleepers in deadline order as it goes."""
        target = self.now + seconds
        while True:
            await self.settle()
            due = [d for d, f in self._sleepers if not f.done() and d <= target]
            if not due:
                break
            self.now = max(self.now, min(due))
            for deadline, future in self._sleepers:
                if deadline <= self.now and not future.done():
                    future.set_result(None)
            self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]
        self.now = target
        await self.settle()
