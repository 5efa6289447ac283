"""``python -m bench.hop``: what one journal write costs an idle gateway, in wall time.

At 50 req/s every call finds the journal writer thread asleep. This measures the round trip
the pipeline makes for each call's record (event loop -> writer thread -> event loop), with
no write, with a WAL commit at ``synchronous=NORMAL`` and at ``FULL`` (labgate's default), one
call every 20 ms, 200 calls each. The evidence for the latency figure in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

CALLS = 200
PACE_SECONDS = 0.02


def _writer(
    jobs: queue.Queue[tuple[asyncio.AbstractEventLoop, asyncio.Future[int]] | None],
    path: Path,
    sync: str,
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'OFF' if sync == 'none' else sync}")
    conn.execute("CREATE TABLE t (record TEXT)")
    while (job := jobs.get()) is not None:
        loop, done = job
        if sync != "none":
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", ("x" * 600,))
            conn.execute("COMMIT")
        loop.call_soon_threadsafe(done.set_result, 1)
    conn.close()


async def _measure(path: Path, sync: str) -> tuple[float, float]:
    jobs: queue.Queue[tuple[asyncio.AbstractEventLoop, asyncio.Future[int]] | None] = queue.Queue()
    thread = threading.Thread(target=_writer, args=(jobs, path, sync))
    thread.start()
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(CALLS):
        await asyncio.sleep(PACE_SECONDS)
        started = time.perf_counter()
        done: asyncio.Future[int] = loop.create_future()
        jobs.put((loop, done))
        await done
        times.append(time.perf_counter() - started)
    jobs.put(None)
    thread.join()
    times.sort()
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.99) - 1] * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("none", "NORMAL", "FULL"):
            p50, p99 = asyncio.run(_measure(Path(tmp) / f"{sync}.db", sync))
            print(f"journal round trip, {sync:>6}: p50 {p50:.3f} ms  p99 {p99:.3f} ms")


if __name__ == "__main__":
    main()
