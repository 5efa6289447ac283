"""The journal and PostgreSQL compared record by record (``labgate audit verify`` with both).

Each store's own chain is checked by :mod:`gateway.audit.verify`; two intact chains can still
disagree: rows deleted from PostgreSQL's end, or the journal's tail cut and its shipped cursor
moved back. :func:`compare_stores` walks both in ``seq`` order (PostgreSQL rows of the
journal's ``journal_id``) and finds, as runs of sequence numbers:

    postgres-missing   in the journal at or below its shipped cursor, absent from PostgreSQL
    journal-missing    in PostgreSQL, absent from the journal (and not pruned from it)
    record-differs     the same seq with a different hash in each store

Rows above the cursor that PostgreSQL does not hold yet are the shipping lag, not a problem.
The :class:`Comparison` also carries counts and tips of both, and where they part.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from gateway.audit.chain import Problem
from gateway.audit.journal import CURSOR_KEY, JOURNAL_ID_KEY
from gateway.audit.prune import ANCHOR_SEQ_KEY
from gateway.audit.reader import JournalReader
from gateway.cliresult import CommandResult

__all__ = ["Comparison", "acompare_stores", "compare_stores", "report"]

Tip = tuple[int, str] | None

_MESSAGES = {
    "postgres-missing": "shipped (journal cursor {cursor}) but not in PostgreSQL",
    "journal-missing": "in PostgreSQL but not in the journal",
    "record-differs": "the journal and PostgreSQL hold different records (hashes differ)",
}


@dataclass
class Comparison:
    journal_id: str
    cursor: int
    pruned_through: int
    journal_count: int = 0
    journal_tip: Tip = None
    postgres_count: int = 0
    postgres_tip: Tip = None
    #: The first seq at which the stores disagree; ``None`` when they agree.
    parted_at: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"journal {self.journal_id}: {self.journal_count} records, tip {_tip(self.journal_tip)}"
            f", shipped through seq {self.cursor}; PostgreSQL: {self.postgres_count} records, "
            f"tip {_tip(self.postgres_tip)}; "
            + (f"the stores part at seq {self.parted_at}" if self.parted_at else "they agree")
        )


def _tip(tip: Tip) -> str:
    return "none" if tip is None else f"seq {tip[0]} hash {tip[1][:12]}"


class _Runs:
    """Consecutive sequence numbers of one kind of finding, reported as one problem each."""

    def __init__(self, out: Comparison) -> None:
        self._out = out
        self._open: dict[str, tuple[int, int]] = {}

    def add(self, code: str, seq: int) -> None:
        if self._out.parted_at is None:
            self._out.parted_at = seq
        first, last = self._open.get(code, (seq, seq - 1))
        if last != seq - 1:
            self._close(code)
            first = seq
        self._open[code] = (first, seq)

    def finish(self) -> None:
        for code in list(self._open):
            self._close(code)
        self._out.problems.sort(key=lambda p: (p.seq or 0, p.code))

    def _close(self, code: str) -> None:
        first, last = self._open.pop(code)
        span = f"seq {first}" if first == last else f"seq {first}..{last} ({last - first + 1})"
        message = f"{span}: " + _MESSAGES[code].format(cursor=self._out.cursor)
        self._out.problems.append(Problem(first, code, message))


def compare_stores(journal: Path, dsn: str) -> Comparison:
    return asyncio.run(acompare_stores(journal, dsn))


async def acompare_stores(journal: Path, dsn: str) -> Comparison:
    """Compare the journal at ``journal`` with its rows in PostgreSQL at ``dsn``."""
    with JournalReader(journal) as reader:
        out = Comparison(
            journal_id=reader.meta(JOURNAL_ID_KEY) or "",
            cursor=int(reader.meta(CURSOR_KEY) or 0),
            pruned_through=int(reader.meta(ANCHOR_SEQ_KEY) or 0),
        )
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                await _merge(out, _journal_rows(reader), _postgres_rows(conn, out.journal_id))
        finally:
            await conn.close()
    return out


def _journal_rows(reader: JournalReader) -> Iterator[tuple[int, str]]:
    for row in reader.iter_rows():
        yield row.seq, row.hash


async def _postgres_rows(
    conn: asyncpg.Connection, journal_id: str
) -> AsyncIterator[tuple[int, str]]:
    query = "SELECT seq, hash FROM labgate_audit WHERE journal_id = $1 ORDER BY seq"
    async for rec in conn.cursor(query, journal_id, prefetch=5000):
        yield int(rec["seq"]), str(rec["hash"])


async def _merge(
    out: Comparison, jrows: Iterator[tuple[int, str]], prows: AsyncIterator[tuple[int, str]]
) -> None:
    runs = _Runs(out)
    j = next(jrows, None)
    p = await anext(prows, None)
    while j is not None or p is not None:
        if p is None or (j is not None and j[0] < p[0]):
            assert j is not None
            out.journal_count, out.journal_tip = out.journal_count + 1, j
            if j[0] <= out.cursor:
                runs.add("postgres-missing", j[0])
            j = next(jrows, None)
        elif j is None or p[0] < j[0]:
            out.postgres_count, out.postgres_tip = out.postgres_count + 1, p
            if p[0] > out.pruned_through:
                runs.add("journal-missing", p[0])
            p = await anext(prows, None)
        else:
            out.journal_count, out.journal_tip = out.journal_count + 1, j
            out.postgres_count, out.postgres_tip = out.postgres_count + 1, p
            if j[1] != p[1]:
                runs.add("record-differs", j[0])
            j, p = next(jrows, None), await anext(prows, None)
    runs.finish()


def report(journal: Path, dsn: str, name: str, res: CommandResult) -> int:
    """Add the comparison to ``res`` (summary, then each problem): 0 agree, 1 differ,
    2 unreadable."""
    try:
        result = compare_stores(journal, dsn)
    except (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        res.errors.append(f"{name}: cannot compare: {type(exc).__name__}")
        return 2
    res.say(f"{name}: {result.summary()}")
    for problem in result.problems:
        res.say(f"{name}: {problem}")
    return 1 if result.problems else 0
