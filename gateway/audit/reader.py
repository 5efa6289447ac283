"""Reading the local journal: its schema and a synchronous reader.

The writer (:mod:`gateway.audit.journal`) owns the schema; readers never write records. The
CLI (``labgate audit tail|verify``) reads with :class:`JournalReader` directly; the async
:class:`~gateway.audit.journal.Journal` runs the same reader in a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from gateway.audit.chain import Row

__all__ = ["ANCHOR_HASH_KEY", "ANCHOR_SEQ_KEY", "SCHEMA", "JournalReader", "connect"]

#: ``meta`` keys of the prune anchor: seq and hash of the last record pruned (prune.py).
ANCHOR_SEQ_KEY = "pruned_through_seq"
ANCHOR_HASH_KEY = "pruned_through_hash"

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq       INTEGER PRIMARY KEY,
    event_id  TEXT NOT NULL UNIQUE,
    record    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_COLUMNS = "seq, event_id, record, prev_hash, hash"


def connect(path: Path, *, readonly: bool, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit)."""
    if readonly:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


class JournalReader:
    """Synchronous, read-only access to a journal file (which must exist)."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no journal at {path}")
        self.path = path
        self._conn = connect(path, readonly=True, busy_timeout_ms=busy_timeout_ms)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def rows_after(self, seq: int, limit: int) -> list[Row]:
        """Up to ``limit`` rows with a sequence number above ``seq``, ascending."""
        cur = self._conn.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
            (seq, limit),
        )
        return [Row(*r) for r in cur.fetchall()]

    def iter_rows(self, chunk: int = 5000) -> Iterator[Row]:
        """Every row, ascending, read in chunks."""
        after = -1
        while rows := self.rows_after(after, chunk):
            yield from rows
            after = rows[-1].seq

    def tail(self, n: int) -> list[Row]:
        """The last ``n`` rows, ascending."""
        cur = self._conn.execute(
            f"SELECT {_COLUMNS} FROM journal ORDER BY seq DESC LIMIT ?",  # noqa: S608
            (n,),
        )
        return [Row(*r) for r in reversed(cur.fetchall())]

    def last_seq(self) -> int:
        (seq,) = self._conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()
        return int(seq)

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
