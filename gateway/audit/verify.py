"""``labgate audit verify`` and ``labgate audit tail``: plain functions returning exit codes.

verify_journal(path) -> [Problem]    # the local journal's chain
verify_postgres(dsn, replicas) -> [Problem]
                                     # each journal's chain in labgate_audit, by seq, every
                                     # typed column against its hashed record, one replica
                                     # per journal, and (given ``replicas``) no replica
                                     # missing, none foreign
compare_stores(journal, dsn)         # both stores against each other (compare.py)
cmd_verify(journals, dsn, replicas) -> CommandResult, exit 0 intact | 1 problems found |
                            2 could not read; with journals and a DSN it also compares
                            each with PostgreSQL
cmd_tail(journal, n, follow) -> 0 | 2; prints one JSON line per record
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
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


def verify_postgres(dsn: str, replicas: Sequence[str] = ()) -> list[Problem]:
    return asyncio.run(averify_postgres(dsn, replicas))


async def averify_postgres(dsn: str, replicas: Sequence[str] = ()) -> list[Problem]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        problems: list[Problem] = []
        journals = await conn.fetch(
            "SELECT journal_id, array_agg(DISTINCT replica) FILTER (WHERE replica IS NOT NULL)"
            " AS replicas, count(*) AS n FROM labgate_audit GROUP BY journal_id ORDER BY 1"
        )
        problems.extend(_replica_problems(journals, replicas))
        several = len(journals) > 1
        for journal_id, names, _ in journals:
            where = _journal_label(journal_id, names) if several else ""
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
                found = chain.finish()
            problems.extend(_labelled(where, [*found, *columns]))
        return sorted(problems, key=lambda p: (p.seq or 0, p.code))
    finally:
        await conn.close()


def _journal_label(journal_id: str, names: Sequence[str] | None) -> str:
    return f"journal {journal_id[:12]} ({', '.join(names or ['no replica'])}): "


def _labelled(where: str, problems: list[Problem]) -> list[Problem]:
    return [dataclasses.replace(p, message=where + p.message) for p in problems]


def _replica_problems(journals: Sequence[Any], expected: Sequence[str]) -> list[Problem]:
    """One replica per journal; with ``expected``: none of them missing, no other one."""
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    for journal_id, names, n in journals:
        names = list(names or [])
        if len(names) > 1:
            problems.append(
                Problem(
                    None,
                    "replica-mixed",
                    f"journal {journal_id[:12]} holds records of several replicas: {names}",
                )
            )
        for name in names:
            counts[name] = counts.get(name, 0) + int(n)
    if not expected:
        return problems
    for name in sorted(set(expected) - set(counts)):
        problems.append(Problem(None, "replica-missing", f"no record of replica {name!r}"))
    for name in sorted(set(counts) - set(expected)):
        problems.append(
            Problem(
                None,
                "replica-foreign",
                f"{counts[name]} record(s) of replica {name!r}, which is not expected",
            )
        )
    return problems


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


def cmd_verify(
    journal: Path | Sequence[Path] | None,
    dsn: str | None,
    *,
    replicas: Sequence[str] = (),
) -> CommandResult:
    """``labgate audit verify``: each chain, then each journal against PostgreSQL."""
    res = CommandResult()
    journals = [journal] if isinstance(journal, Path) else list(journal or [])
    if not journals and dsn is None:
        res.errors.append("audit verify: give a journal path and/or a PostgreSQL DSN")
        return res.end(2)
    status = 0
    for name, check in _checks(journals, dsn, replicas):
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
    if dsn is not None:
        for path in journals:
            name = f"{path} vs postgresql {describe_dsn(dsn)}"
            status = max(status, compare.report(path, dsn, name, res))
    return res.end(status)


def _checks(
    journals: Sequence[Path], dsn: str | None, replicas: Sequence[str]
) -> Iterator[tuple[str, Any]]:
    for path in journals:
        yield str(path), lambda path=path: verify_journal(path)
    if dsn is not None:
        yield f"postgresql {describe_dsn(dsn)}", lambda: verify_postgres(dsn, replicas)


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
