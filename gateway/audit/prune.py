"""``labgate audit prune``: keep the local journal from growing without end.

Only records that are already in PostgreSQL (at or below the shipped cursor) and older than the
cut-off are removed, oldest first, in one transaction. The ``seq`` and ``hash`` of the last
removed record are kept as the journal's anchor, so ``audit verify`` checks the rest of the
chain from there; the whole chain, pruned part included, stays verifiable in PostgreSQL.
A journal without PostgreSQL shipping is never pruned: it is the only copy.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from gateway.audit.journal import CURSOR_KEY
from gateway.audit.reader import ANCHOR_HASH_KEY, ANCHOR_SEQ_KEY, connect
from gateway.cliresult import CommandResult

__all__ = ["ANCHOR_HASH_KEY", "ANCHOR_SEQ_KEY", "cmd_prune", "prune"]


def prune(path: Path, before: datetime, *, busy_timeout_ms: int = 5000) -> tuple[int, int]:
    """Remove shipped records older than ``before``; returns (records removed, anchor seq)."""
    conn = connect(path, readonly=False, busy_timeout_ms=busy_timeout_ms)
    try:
        conn.execute("BEGIN IMMEDIATE")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        shipped = int(meta.get(CURSOR_KEY, 0))
        anchor = int(meta.get(ANCHOR_SEQ_KEY, 0))
        # The newest shipped record older than the cut-off: everything up to it goes.
        cut = before.isoformat(timespec="microseconds")
        found = conn.execute(
            "SELECT seq, hash FROM journal WHERE seq <= ? AND json_extract(record, '$.time') < ?"
            " ORDER BY seq DESC LIMIT 1",
            (shipped, cut),
        ).fetchone()
        if found is None or int(found[0]) <= anchor:
            conn.execute("ROLLBACK")
            return 0, anchor
        through, last_hash = int(found[0]), str(found[1])
        removed = conn.execute("DELETE FROM journal WHERE seq <= ?", (through,)).rowcount
        conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(ANCHOR_SEQ_KEY, str(through)), (ANCHOR_HASH_KEY, last_hash)],
        )
        conn.execute("COMMIT")
        return int(removed), through
    finally:
        conn.close()


def cmd_prune(path: Path, keep_days: float, *, now: datetime) -> CommandResult:
    """``labgate audit prune``: remove shipped records older than ``keep_days``."""
    res = CommandResult()
    if keep_days < 1:
        res.errors.append("audit prune: keep at least one day of records")
        return res.end(2)
    if not path.is_file():
        res.errors.append(f"audit prune: no journal at {path}")
        return res.end(2)
    removed, anchor = prune(path, now - timedelta(days=keep_days))
    res.say(f"{path}: {removed} shipped record(s) removed; chain anchored at seq {anchor}")
    return res.end(0)
