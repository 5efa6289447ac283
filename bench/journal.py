"""``python -m bench.journal``: how fast the audit journal appends under concurrent callers.

10,000 call records from 200 concurrent callers into a fresh journal (group commit): records
per second and records per commit. Moved here from the test suite, where a speed figure has
no place (the tests keep what can fail: every record stored once, in order, chained).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.inprocess import sample_record
from gateway.audit.journal import Journal

RECORDS = 10_000
CONCURRENCY = 200


async def append_rate(n: int = RECORDS, concurrency: int = CONCURRENCY) -> tuple[float, float]:
    """(records per second, records per commit) for ``n`` appends, ``concurrency`` at once."""
    gate = asyncio.Semaphore(concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        async with Journal(Path(tmp) / "journal.db") as journal:

            async def one(i: int) -> int:
                async with gate:
                    return await journal.append(sample_record(i))

            started = time.perf_counter()
            seqs = await asyncio.gather(*(one(i) for i in range(n)))
            elapsed = time.perf_counter() - started
            commits = journal.commits
    if len(set(seqs)) != n:
        raise SystemExit(f"journal returned {len(set(seqs))} distinct seqs for {n} appends")
    return n / elapsed, n / max(commits, 1)


def main() -> None:
    rate, per_commit = asyncio.run(append_rate())
    print(f"journal: {rate:,.0f} records/s, {per_commit:.0f} records per commit")


if __name__ == "__main__":
    main()
