"""The shipper: copies journal rows to PostgreSQL in the background.

    sink = PostgresSink(dsn, journal)
    await sink.start()            # never fails because PostgreSQL is away
    sink.lag, sink.last_error     # for /metrics and /readyz
    await sink.stop()             # ships what it can within stop_timeout

Each batch is the rows after the journal's shipped cursor. It is COPYed into a temporary
table and inserted with ``ON CONFLICT (event_id) DO NOTHING`` in one transaction; the cursor
moves only after that commit. A batch that committed but whose acknowledgement was lost is
shipped again and inserts nothing: no loss, no duplicate. While PostgreSQL is away (refusing,
restarting, timing out) the shipper retries with capped exponential backoff. An attempt
that takes longer than ``ship_timeout`` (a PostgreSQL that accepts and never answers) is
abandoned on a fresh connection and reported like any other failure, in ``last_error`` and
the log.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from gateway.audit.journal import Journal
from gateway.audit.migrate import migrate
from gateway.audit.pgrow import COLUMNS, pg_values

__all__ = ["PostgresSink", "ShipTimeout", "describe_dsn"]

log = logging.getLogger("labgate.audit.postgres")

_STAGE = "labgate_audit_stage"
_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
    "(LIKE labgate_audit INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COLS = ", ".join(COLUMNS)
_INSERT = (
    f"INSERT INTO labgate_audit ({_COLS}) SELECT {_COLS} FROM {_STAGE} "  # noqa: S608
    "ON CONFLICT (event_id) DO NOTHING"
)


class ShipTimeout(Exception):
    """A shipping attempt exceeded ``ship_timeout``: PostgreSQL accepted but did not answer."""


def describe_dsn(dsn: str) -> str:
    """``host:port/db`` for logs; never the user's password."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        return f"{host}{port}{parts.path or '/'}"
    fields = _keywords(dsn)
    return (
        f"{fields.get('host', 'localhost')}:{fields.get('port', '5432')}/{fields.get('dbname', '')}"
    )


class PostgresSink:
    """Background shipper from a :class:`Journal` to ``labgate_audit``."""

    def __init__(
        self,
        dsn: str,
        journal: Journal,
        batch_size: int = 500,
        interval: float = 0.2,
        *,
        max_backoff: float = 30.0,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        ship_timeout: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self.target = describe_dsn(dsn)
        self.journal = journal
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.stop_timeout = stop_timeout
        self.ship_timeout = ship_timeout
        self.last_error: str | None = None
        self.shipped = 0
        self._cursor: int | None = None
        self._pool: Any = None
        self._migrated = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def lag(self) -> int:
        """Records in the journal not yet known to be in PostgreSQL."""
        if self._cursor is None:
            return self.journal.last_seq
        return max(0, self.journal.last_seq - self._cursor)

    async def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="labgate-audit-shipper"
            )

    async def stop(self) -> None:
        """Ship what can be shipped within ``stop_timeout``, then close the pool."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(task, self.stop_timeout)
            except TimeoutError:
                log.warning("audit shipper stopped with %d record(s) unshipped", self.lag)
        await self._close_pool()

    async def ship_once(self) -> int:
        """Ship one batch; returns the number of rows shipped (0: nothing to do)."""
        cursor = await self.journal.shipped_cursor()
        self._cursor = cursor
        rows = await self.journal.read_after(cursor, self.batch_size)
        if not rows:
            return 0
        records = [pg_values(r, self.journal.journal_id) for r in rows]
        pool = await self._ensure_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(_CREATE_STAGE)
            await conn.copy_records_to_table(_STAGE, records=records, columns=COLUMNS)
            await conn.execute(_INSERT)
        await self.journal.set_shipped_cursor(rows[-1].seq)
        self._cursor = rows[-1].seq
        self.shipped += len(rows)
        return len(rows)

    async def _run(self) -> None:
        backoff = min(0.1, self.max_backoff)
        while True:
            try:
                shipped = await self._attempt()
            except Exception as exc:  # the shipper never dies; it reports and retries
                self.last_error = _describe(exc, self._dsn)
                log.warning("audit shipping to %s failed: %s", self.target, self.last_error)
                if self._stopping.is_set():
                    return
                await self._close_pool_if_broken(exc)
                await self._sleep(backoff * (0.5 + random.random() / 2))  # noqa: S311
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self.last_error = None
            backoff = min(0.1, self.max_backoff)
            if shipped < self.batch_size:
                if self._stopping.is_set():
                    return
                await self._sleep(self.interval)

    async def _attempt(self) -> int:
        """:meth:`ship_once` within ``ship_timeout``; a stall becomes :class:`ShipTimeout`.

        On a stall the pool is terminated first (its sockets closed), so the abandoned
        attempt ends at once instead of waiting on a server that never answers.
        """
        attempt = asyncio.get_running_loop().create_task(self.ship_once(), name="audit-ship")
        done, _ = await asyncio.wait({attempt}, timeout=self.ship_timeout)
        if attempt in done:
            return attempt.result()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
        attempt.cancel()
        await asyncio.wait({attempt}, timeout=1.0)
        attempt.add_done_callback(_consume)
        raise ShipTimeout(f"no answer from PostgreSQL within {self.ship_timeout:g} s (stalled)")

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _ensure_pool(self) -> Any:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=2,
                timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
            )
        if not self._migrated:
            async with self._pool.acquire() as conn:
                applied = await migrate(conn)
            if applied:
                log.info("audit schema on %s migrated: %s", self.target, ", ".join(applied))
            self._migrated = True
        return self._pool

    async def _close_pool_if_broken(self, exc: Exception) -> None:
        if isinstance(exc, OSError | asyncpg.InterfaceError | TimeoutError | ShipTimeout):
            await self._close_pool()

    async def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 2.0)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()


def _consume(task: asyncio.Task[int]) -> None:
    if not task.cancelled():
        task.exception()


def _keywords(dsn: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in dsn.split() if "=" in p)


def _describe(exc: BaseException, dsn: str) -> str:
    """A short error text for ``last_error`` and logs, with the DSN's password masked."""
    text = f"{type(exc).__name__}: {exc}"[:300]
    password = urlsplit(dsn).password if "://" in dsn else _keywords(dsn).get("password")
    if password:
        text = text.replace(password, "***")
    return text
