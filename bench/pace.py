"""Fixed-rate latency: an open-loop, paced asyncio client (wrk2-style timing).

Requests are due at fixed instants; a request's latency runs from the instant it was due, so
a stall is counted against the server, not hidden by a late send (coordinated omission). At
50 requests per second one asyncio + httpx client is far from being the bottleneck. Two
targets are paced together, alternating slot by slot, so both see the same machine noise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["Probe", "paced"]

#: One request of a target; returns the HTTP status.
Probe = Callable[[], Awaitable[int]]


async def paced(probes: Sequence[Probe], rate_per_target: float, count: int) -> list[list[float]]:
    """Run each probe ``count`` times at ``rate_per_target``; latencies in ms, per probe.

    Slots are spread evenly: with two probes at 50/s a request is due every 10 ms, taking
    turns. A non-200 answer raises, since its latency would mean nothing.
    """
    if not probes or rate_per_target <= 0 or count <= 0:
        raise ValueError("need probes, a positive rate and a positive count")
    interval = 1.0 / (rate_per_target * len(probes))
    results: list[list[float]] = [[] for _ in probes]
    tasks: list[asyncio.Task[Any]] = []  # every task kept: a failure is never lost
    start = time.perf_counter() + 0.05
    loop = asyncio.get_running_loop()

    async def one(index: int, due: float) -> None:
        status = await probes[index]()
        elapsed = (time.perf_counter() - due) * 1000
        if status != 200:
            raise RuntimeError(f"probe {index} answered {status}")
        results[index].append(elapsed)

    for slot in range(count * len(probes)):
        due = start + slot * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(slot % len(probes), due)))
    await asyncio.gather(*tasks)
    return results
