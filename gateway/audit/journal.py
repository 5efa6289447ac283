"""The local audit journal: SQLite in WAL mode, one writer thread, group commit.

``await journal.append(record)`` resolves only after the transaction holding the record has
committed. Callers that arrive while a commit is in flight are queued and written together in
the next transaction, so one ``fsync`` serves many calls. With ``synchronous=FULL`` (the
default) a returned ``append`` survives a process kill and a power loss; with ``NORMAL`` it
survives a process kill but the last commits may be lost on power loss (docs/audit.md).

Only one process writes a journal: ``open`` takes an exclusive lock beside it
(:mod:`gateway.audit.lock`) and raises :class:`~gateway.audit.lock.JournalLocked` when
another process holds it. Every transaction also checks that the stored tip is the one this
writer last committed; a row written by anyone else fails every later write (logged, and
``check`` turns false) instead of forking the chain.

Any failure to write (disk full, read-only file, lock held elsewhere, file removed) makes
``append`` raise :class:`~gateway.errors.AuditUnavailable` within ``busy_timeout`` or
``append_timeout``, never hang: the pipeline then fails the call closed (503).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from gateway.audit.chain import GENESIS, Row, link, record_text
from gateway.audit.lock import JournalLock
from gateway.audit.reader import (
    ANCHOR_HASH_KEY,
    ANCHOR_SEQ_KEY,
    SCHEMA,
    JournalReader,
    connect,
)
from gateway.audit.record import AuditRecord
from gateway.errors import AuditUnavailable

__all__ = ["Journal"]

log = logging.getLogger("labgate.audit.journal")

CURSOR_KEY = "shipped_cursor"
JOURNAL_ID_KEY = "journal_id"
_STOP = object()
T = TypeVar("T")


class _Waits:
    """The appends one event loop is waiting for, oldest first, and the one timer that fails
    any of them still unwritten at its deadline (instead of a timer per append).

    ``outbox`` holds the appends made since the loop last handed a group to the writer: they
    go together, in one hand-off, once the loop's current round of ready callbacks is done."""

    __slots__ = ("loop", "outbox", "pending", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: deque[_Item] = deque()
        self.outbox: list[_Item] = []
        self.timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _Item:
    """One queued write: a record (``text``) or a meta update (``meta``)."""

    waits: _Waits
    future: asyncio.Future[Row | None]
    deadline: float
    text: str | None = None
    event_id: str | None = None
    meta: tuple[str, str] | None = None
    result: Row | None = None
    error: BaseException | None = field(default=None)


class Journal:
    """Durable local journal; see the module docstring."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout: float = 1.0,
        append_timeout: float = 5.0,
        max_batch: int = 2000,
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.append_timeout = append_timeout
        self.max_batch = max_batch
        self.journal_id = ""
        self._queue: queue.SimpleQueue[list[_Item] | object] = queue.SimpleQueue()
        self._waits: _Waits | None = None
        #: Called in the writer thread with the rows of each commit, after the commit and
        #: before any caller is answered (the audit log lines: ``AuditSink``).
        self.on_commit: Callable[[list[Row]], None] | None = None
        self._thread: threading.Thread | None = None
        self._reader: JournalReader | None = None
        self._read_lock = threading.Lock()
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._inode: tuple[int, int] | None = None
        self._lock = JournalLock(path)
        self._last_seq = 0
        self._last_hash = GENESIS
        self._healthy = False
        self._closing = False
        #: Committed transactions since open (each holding one or more records).
        self.commits = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Create or reopen the journal; raises AuditUnavailable when it cannot be written.

        Raises :class:`~gateway.audit.lock.JournalLocked` when another process writes it.
        """
        if self._thread is not None:
            return
        try:
            self._lock.acquire()
        except OSError as exc:
            raise AuditUnavailable(internal=f"journal lock failed: {exc!r}") from None
        self._ready.clear()
        self._open_error = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="labgate-audit-journal")
        self._thread.daemon = True
        self._thread.start()
        await asyncio.to_thread(self._ready.wait)
        if self._open_error is None:
            try:
                timeout_ms = int(self.busy_timeout * 1000)
                self._reader = JournalReader(self.path, busy_timeout_ms=timeout_ms)
            except (sqlite3.Error, OSError) as exc:
                self._open_error = exc
                self._queue.put(_STOP)
        if self._open_error is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(thread.join)
            self._lock.release()
            raise AuditUnavailable(internal=f"journal open failed: {self._open_error!r}")
        self._healthy = True

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        if self._thread is None:
            return
        self._closing = True
        waits = self._waits
        if waits is not None and waits.outbox and waits.loop is asyncio.get_running_loop():
            self._hand_over(waits)  # before the stop: nothing appended is left behind
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        self._healthy = False
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._lock.release()

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writing -----------------------------------------------------------------------------

    async def append(self, record: AuditRecord) -> int:
        """Make ``record`` durable; returns its sequence number."""
        return (await self.append_row(record)).seq

    async def append_row(self, record: AuditRecord) -> Row:
        """Like :meth:`append`, returning the stored row (with its ``seq`` and ``hash``)."""
        row = await self._submit(text=record_text(record), event_id=record.event_id)
        assert row is not None
        return row

    async def set_shipped_cursor(self, seq: int) -> None:
        """Remember that every row up to ``seq`` is in PostgreSQL (durably, like a record)."""
        await self._submit(meta=(CURSOR_KEY, str(seq)))

    async def check(self) -> bool:
        """Write probe for /readyz: a real committed write through the writer thread."""
        try:
            await self._submit(meta=("checked_at", repr(time.time())))
        except AuditUnavailable:
            return False
        return True

    @property
    def healthy(self) -> bool:
        """False from a failed write until the next successful one."""
        return self._healthy and self._thread is not None

    @property
    def last_seq(self) -> int:
        """The sequence number of the last committed record."""
        return self._last_seq

    async def _submit(
        self,
        *,
        text: str | None = None,
        event_id: str | None = None,
        meta: tuple[str, str] | None = None,
    ) -> Row | None:
        if self._thread is None or self._closing:
            raise AuditUnavailable(internal="journal is not open")
        loop = asyncio.get_running_loop()
        waits = self._waits
        if waits is None or waits.loop is not loop:
            waits = self._waits = _Waits(loop)
        item = _Item(
            waits,
            loop.create_future(),
            loop.time() + self.append_timeout,
            text=text,
            event_id=event_id,
            meta=meta,
        )
        waits.pending.append(item)
        if waits.timer is None:
            waits.timer = loop.call_at(item.deadline, self._expire, waits)
        # Group commit starts here: every append of this round of the loop goes to the writer
        # in one hand-off (one wake-up, one transaction), right after the round.
        waits.outbox.append(item)
        if len(waits.outbox) == 1:
            loop.call_soon(self._hand_over, waits)
        # A cancelled caller cancels only this future: the write still happens, nobody waits.
        return await item.future

    def _hand_over(self, waits: _Waits) -> None:
        items, waits.outbox = waits.outbox, []
        if items:
            self._queue.put(items)

    def _expire(self, waits: _Waits) -> None:
        """The deadline timer: fail the appends still unwritten after ``append_timeout``."""
        waits.timer = None
        now = waits.loop.time()
        pending = waits.pending
        while pending:
            item = pending[0]
            if not item.future.done():
                if item.deadline > now:
                    break
                self._healthy = False
                item.future.set_exception(AuditUnavailable(internal="journal write timed out"))
            pending.popleft()
        if pending:
            waits.timer = waits.loop.call_at(pending[0].deadline, self._expire, waits)

    # -- reading -----------------------------------------------------------------------------

    async def read_after(self, seq: int, limit: int) -> list[Row]:
        return await self._read(lambda r: r.rows_after(seq, limit))

    async def tail(self, n: int) -> list[Row]:
        return await self._read(lambda r: r.tail(n))

    async def shipped_cursor(self) -> int:
        value = await self._read(lambda r: r.meta(CURSOR_KEY))
        return int(value or 0)

    async def _read(self, fn: Callable[[JournalReader], T]) -> T:
        reader = self._reader
        if reader is None:
            raise AuditUnavailable(internal="journal is not open")

        def locked() -> T:
            with self._read_lock:
                return fn(reader)

        try:
            return await asyncio.to_thread(locked)
        except sqlite3.Error as exc:
            raise AuditUnavailable(internal=f"journal read failed: {exc!r}") from exc

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = self._open_conn()
        except (sqlite3.Error, OSError) as exc:
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            stop = False
            while not stop:
                batch: list[_Item] = []
                first = self._queue.get()
                while True:
                    if first is _STOP:
                        stop = True
                    elif isinstance(first, list):
                        batch.extend(first)
                    if stop or len(batch) >= self.max_batch:
                        break
                    try:
                        first = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    try:
                        self._write(conn, batch)
                    except Exception as exc:  # never leave a caller waiting on a dead writer
                        self._healthy = False
                        for item in batch:
                            item.error = AuditUnavailable(internal=f"journal writer: {exc!r}")
                    self._committed(batch)
                    _resolve(batch)
        finally:
            conn.close()

    def _open_conn(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, readonly=False, busy_timeout_ms=int(self.busy_timeout * 1000))
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute("BEGIN IMMEDIATE")
            conn.executescript(SCHEMA)  # executescript commits
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (JOURNAL_ID_KEY,))
            found = row.fetchone()
            self.journal_id = str(found[0]) if found else uuid.uuid4().hex
            if not found:
                conn.execute("INSERT INTO meta VALUES (?, ?)", (JOURNAL_ID_KEY, self.journal_id))
            self._last_seq, self._last_hash = _stored_tip(conn)
            conn.execute("COMMIT")
            st = os.stat(self.path)
            self._inode = (st.st_dev, st.st_ino)
        except BaseException:
            conn.close()
            raise
        return conn

    def _write(self, conn: sqlite3.Connection, batch: list[_Item]) -> None:
        seq, prev = self._last_seq, self._last_hash
        try:
            conn.execute("BEGIN IMMEDIATE")
            _check_tip(conn, self._last_seq)
            for item in batch:
                if item.meta is not None:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", item.meta)
                    continue
                assert item.text is not None and item.event_id is not None
                digest = link(prev, item.text)
                try:
                    conn.execute(
                        "INSERT INTO journal VALUES (?, ?, ?, ?, ?)",
                        (seq + 1, item.event_id, item.text, prev, digest),
                    )
                except sqlite3.IntegrityError:
                    item.error = AuditUnavailable(internal="duplicate audit event_id")
                    continue
                seq += 1
                item.result = Row(seq, item.event_id, item.text, prev, digest)
                prev = digest
            conn.execute("COMMIT")
            self._check_file()
        except (sqlite3.Error, OSError) as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self._healthy = False
            log.error("audit journal write failed: %r", exc)
            error = AuditUnavailable(internal=f"journal write failed: {exc!r}")
            for item in batch:
                item.result, item.error = None, error
            return
        self._last_seq, self._last_hash = seq, prev
        self.commits += 1
        self._healthy = True

    def _committed(self, batch: list[_Item]) -> None:
        hook = self.on_commit
        if hook is None:
            return
        rows = [item.result for item in batch if item.result is not None]
        if rows:
            try:
                hook(rows)
            except Exception:  # a log line never fails a durable write
                log.exception("audit journal commit hook failed")

    def _check_file(self) -> None:
        """A journal deleted or replaced under us accepts writes nobody will ever read."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise OSError("journal file was removed") from None
        if (st.st_dev, st.st_ino) != self._inode:
            raise OSError("journal file was replaced")


def _stored_tip(conn: sqlite3.Connection) -> tuple[int, str]:
    """Seq and hash of the last record; of the prune anchor when every record was pruned."""
    tip = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    if tip is not None:
        return int(tip[0]), str(tip[1])
    meta = dict(
        conn.execute(
            "SELECT key, value FROM meta WHERE key IN (?, ?)", (ANCHOR_SEQ_KEY, ANCHOR_HASH_KEY)
        ).fetchall()
    )
    if ANCHOR_SEQ_KEY in meta:
        return int(meta[ANCHOR_SEQ_KEY]), str(meta.get(ANCHOR_HASH_KEY, ""))
    return 0, GENESIS


def _check_tip(conn: sqlite3.Connection, expected: int) -> None:
    """The stored tip must be the one this writer committed last: no one else writes here."""
    found, _ = _stored_tip(conn)
    if found != expected:
        raise OSError(
            f"journal was written by someone else: last seq is {found}, this writer's is "
            f"{expected}; restart labgate (one process per journal) and run audit verify"
        )


def _resolve(batch: list[_Item]) -> None:
    """Hand the outcomes back: one wake-up per event loop per commit."""
    by_loop: dict[_Waits, list[_Item]] = {}
    for item in batch:
        by_loop.setdefault(item.waits, []).append(item)
    for waits, items in by_loop.items():
        try:
            waits.loop.call_soon_threadsafe(_settle, waits, items)
        except RuntimeError:  # the caller's loop is closed: nobody waits any more
            pass


def _settle(waits: _Waits, items: list[_Item]) -> None:
    for item in items:
        if item.future.done():
            continue
        if item.error is not None:
            item.future.set_exception(item.error)
        else:
            item.future.set_result(item.result)
    pending = waits.pending
    while pending and pending[0].future.done():
        pending.popleft()
