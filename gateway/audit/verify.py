"""``labgate audit verify`` and ``labgate audit tail``: plain functions returning exit codes.

verify_journal(path) -> [Problem]    # the local journal's chain
verify_postgres(dsn) -> [Problem]    # each journal's chain in labgate_audit, by seq, and
                                     # every typed column against its hashed record
compare_stores(journal, dsn)         # both stores against each other (compare.py)
cmd_verify(journal, dsn) -> CommandResult, exit 0 intact | 1 problems found | 2 could not
                            read; with both a journal and a DSN it also compares them
cmd_tail(journal, n, follow) -> 0 | 2; prints one JSON line per record
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from gateway.audit import compare
from gateway.audit.chain import GENESIS, Problem, Row, verify
from gateway.audit.journal import CURSOR_KEY
from gateway.audit.log import AuditLog
from gateway.audit.pgrow import COLUMNS, pg_values
from gateway.audit.postgres import describe_dsn
from gateway.audit.prune import ANCHOR_HASH_KEY, ANCHOR_SEQ_KEY
from gateway.audit.reader import JournalReader
from gateway.cliresult import CommandResult

__all__ = ["averify_postgres", "cmd_tail", "cmd_verify", "verify_journal", "verify_postgres"]

_TYPED = [c for c in COLUMNS if c not in ("record", "prev_hash", "hash", "event_id", "seq")]


def verify_journal(path: Path) -> list[Problem]:
    """Problems in the journal at ``path`` (FileNotFoundError when there is none)."""
    with JournalReader(path) as reader:
        feed = _ChainFeed()
        pruned = reader.meta(ANCHOR_SEQ_KEY)
        if pruned is not None:  # records up to there were pruned after shipping (prune.py)
            feed.anchor_at(int(pruned) + 1, reader.meta(ANCHOR_HASH_KEY) or "")
        for row in reader.iter_rows():
            feed.feed(row)
        problems = feed.finish()
        last, shipped = reader.last_seq(), int(reader.meta(CURSOR_KEY) or 0)
    if shipped > last:
        problems.append(
            Problem(
                last + 1, "tail-missing", f"rows up to seq {shipped} were shipped, then removed"
            )
        )
    return problems


def verify_postgres(dsn: str) -> list[Problem]:
    return asyncio.run(averify_postgres(dsn))


async def averify_postgres(dsn: str) -> list[Problem]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        problems: list[Problem] = []
        journals = await conn.fetch("SELECT DISTINCT journal_id FROM labgate_audit ORDER BY 1")
        for (journal_id,) in journals:
            columns: list[Problem] = []
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                query = (
                    f"SELECT {', '.join(COLUMNS)} FROM labgate_audit "  # noqa: S608
                    "WHERE journal_id = $1 ORDER BY seq"
                )
                cursor = conn.cursor(query, journal_id, prefetch=2000)
                chain = _ChainFeed()
                async for rec in cursor:
                    row = Row(rec["seq"], rec["event_id"], *_chain_cols(rec))
                    columns.extend(_column_problems(row, rec, journal_id))
                    chain.feed(row)
                problems.extend(chain.finish())
            problems.extend(columns)
        return sorted(problems, key=lambda p: (p.seq or 0, p.code))
    finally:
        await conn.close()


class _ChainFeed:
    """Feeds rows to :func:`verify` in chunks, anchoring each chunk on the previous one."""

    def __init__(self, chunk: int = 5000) -> None:
        self._chunk = chunk
        self._rows: list[Row] = []
        self._problems: list[Problem] = []
        self._anchor = (1, GENESIS)

    def anchor_at(self, seq: int, prev_hash: str) -> None:
        self._anchor = (seq, prev_hash)

    def feed(self, row: Row) -> None:
        self._rows.append(row)
        if len(self._rows) >= self._chunk:
            self._flush()

    def finish(self) -> list[Problem]:
        self._flush()
        return self._problems

    def _flush(self) -> None:
        if self._rows:
            self._problems.extend(verify(self._rows, anchor=self._anchor))
            self._anchor = (self._rows[-1].seq + 1, self._rows[-1].hash)
            self._rows = []


def _chain_cols(rec: Any) -> tuple[str, str, str]:
    return rec["record"], rec["prev_hash"], rec["hash"]


def _column_problems(row: Row, rec: Any, journal_id: str) -> list[Problem]:
    try:
        expected = dict(zip(COLUMNS, pg_values(row, journal_id), strict=True))
    except ValueError:
        return [Problem(row.seq, "bad-record", "record is not valid JSON")]
    changed = [c for c in _TYPED if _normal(c, rec[c]) != _normal(c, expected[c])]
    if not changed:
        return []
    return [Problem(row.seq, "column-mismatch", f"columns differ from the record: {changed}")]


def _normal(column: str, value: Any) -> Any:
    if column in ("arguments", "notes") and isinstance(value, str):
        return json.loads(value)
    return value


def cmd_verify(journal: Path | None, dsn: str | None) -> CommandResult:
    """``labgate audit verify``: each chain, then the two stores against each other."""
    res = CommandResult()
    if journal is None and dsn is None:
        res.errors.append("audit verify: give a journal path and/or a PostgreSQL DSN")
        return res.end(2)
    status = 0
    for name, check in _checks(journal, dsn):
        try:
            problems = check()
        except (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            res.errors.append(f"{name}: cannot read: {type(exc).__name__}")
            status = 2
            continue
        for problem in problems:
            res.say(f"{name}: {problem}")
        if problems:
            status = max(status, 1)
        else:
            res.say(f"{name}: chain intact")
    if journal is not None and dsn is not None:
        name = f"{journal} vs postgresql {describe_dsn(dsn)}"
        status = max(status, compare.report(journal, dsn, name, res))
    return res.end(status)


def _checks(journal: Path | None, dsn: str | None) -> Iterator[tuple[str, Any]]:
    if journal is not None:
        yield str(journal), lambda: verify_journal(journal)
    if dsn is not None:
        yield f"postgresql {describe_dsn(dsn)}", lambda: verify_postgres(dsn)


def cmd_tail(
    journal: Path,
    n: int,
    follow: bool,
    *,
    out: TextIO | None = None,
    poll: float = 0.5,
    stop: threading.Event | None = None,
) -> int:
    """Print the last ``n`` records (and, with ``follow``, every new one) as JSON lines."""
    out = out or sys.stdout
    log = AuditLog()
    try:
        reader = JournalReader(journal)
    except FileNotFoundError:
        print(f"audit tail: no journal at {journal}", file=sys.stderr)
        return 2
    with reader:
        last = 0
        for row in reader.tail(n):
            print(log.line(row), file=out, flush=True)
            last = row.seq
        if n <= 0:
            last = reader.last_seq()
        try:
            while follow and not (stop is not None and stop.is_set()):
                rows = reader.rows_after(last, 1000)
                for row in rows:
                    print(log.line(row), file=out, flush=True)
                    last = row.seq
                if not rows:
                    time.sleep(poll)
        except KeyboardInterrupt:
            pass
    return 0
