"""The shipper and the schema, against the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.audit.journal import Journal
from gateway.audit.migrate import migrate
from gateway.audit.postgres import PostgresSink, describe_dsn
from gateway.audit.record import AuditRecord
from tests.gateway.audit.records import make_record
from tests.support.pg import TcpProxy, proxied


@pytest.fixture
async def db(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pg_dsn)
    await migrate(conn)
    await conn.execute("TRUNCATE labgate_audit")
    yield conn
    await conn.close()


async def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def count(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM labgate_audit"))


async def test_records_arrive_with_all_fields(
    journal: Journal, db: asyncpg.Connection, pg_dsn: str
) -> None:
    records = [make_record(i) for i in range(3)]
    records.append(AuditRecord(kind="policy_reload", decision="ok", policy_version="v2"))
    for r in records:
        await journal.append(r)
    sink = PostgresSink(pg_dsn, journal, interval=0.05)
    await sink.start()
    try:
        await wait_for(lambda: _equals(count(db), len(records)))
        await wait_for(lambda: _lag_zero(sink))
    finally:
        await sink.stop()
    assert sink.last_error is None
    for r in records:
        row = await db.fetchrow("SELECT * FROM labgate_audit WHERE event_id = $1", r.event_id)
        assert row is not None
        for f in fields(AuditRecord):
            want = getattr(r, f.name)
            got = row[f.name]
            if f.name == "time":
                assert got == datetime.fromisoformat(want)
            elif f.name in ("arguments", "notes"):
                assert (json.loads(got) if got is not None else None) == want
            else:
                assert got == want, f.name
        assert json.loads(row["record"]) == r.to_dict()
    calls = await db.fetchval("SELECT count(*) FROM labgate_audit_calls")
    assert calls == 3


async def _equals(value: Any, want: int) -> bool:
    return bool(await value == want)


async def _lag_zero(sink: PostgresSink) -> bool:
    return sink.lag == 0


async def test_hostile_values_do_not_block_shipping(
    journal: Journal, db: asyncpg.Connection, pg_dsn: str
) -> None:
    bad = make_record(
        1,
        username="a\x00b",
        arguments={"q": "nul\x00", "n": math.nan, "big": 10**30, "s": "\ud800"},
        groups=["g\x00"],
        result_bytes=2**40,
    )
    await journal.append(bad)
    await journal.append(make_record(2))
    sink = PostgresSink(pg_dsn, journal)
    assert await sink.ship_once() == 2
    row = await db.fetchrow("SELECT * FROM labgate_audit WHERE event_id = $1", bad.event_id)
    assert row["username"] == "a\ufffdb"
    assert json.loads(row["arguments"])["n"] == "nan"
    assert row["result_bytes"] is None
    await sink.stop()


async def test_reshipping_a_shipped_range_inserts_nothing_twice(
    journal: Journal, db: asyncpg.Connection, pg_dsn: str
) -> None:
    for i in range(30):
        await journal.append(make_record(i))
    sink = PostgresSink(pg_dsn, journal, batch_size=10)
    shipped = [await sink.ship_once() for _ in range(4)]
    assert shipped == [10, 10, 10, 0]
    before = await db.fetch("SELECT event_id, shipped_at FROM labgate_audit ORDER BY seq")
    await journal.set_shipped_cursor(5)  # as if the cursor update had been lost
    assert await sink.ship_once() == 10
    assert await sink.ship_once() == 10
    after = await db.fetch("SELECT event_id, shipped_at FROM labgate_audit ORDER BY seq")
    assert after == before
    assert await count(db) == 30
    await sink.stop()


async def test_postgres_refusing_connections_loses_and_duplicates_nothing(
    journal: Journal, db: asyncpg.Connection, pg_dsn: str, pg_proxy: TcpProxy
) -> None:
    sink = PostgresSink(proxied(pg_dsn, pg_proxy), journal, batch_size=50, interval=0.02)
    sink.max_backoff = 0.3
    await sink.start()
    written: list[AuditRecord] = []

    async def produce(n: int) -> None:
        for i in range(n):
            r = make_record(len(written))
            await journal.append(r)
            written.append(r)
            if i % 20 == 0:
                await asyncio.sleep(0.01)

    try:
        await produce(200)
        await wait_for(lambda: _lag_zero(sink))
        await pg_proxy.stop()  # connections cut, port closed: real ECONNREFUSED
        await produce(300)
        await wait_for(lambda: _has_error(sink))
        assert sink.lag > 0
        print(f"\nwhile refused: last_error={sink.last_error!r}")
        await asyncio.sleep(0.5)
        await pg_proxy.start()
        await produce(200)
        await wait_for(lambda: _lag_zero(sink))
        # a restart as seen by clients: every backend of the shipper is terminated mid-run
        await produce(100)
        await db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await produce(100)
        await wait_for(lambda: _lag_zero(sink))
    finally:
        await sink.stop()
    assert sink.last_error is None
    ids = [r["event_id"] for r in await db.fetch("SELECT event_id FROM labgate_audit")]
    assert len(ids) == len(set(ids)) == len(written) == 900
    assert set(ids) == {r.event_id for r in written}
    seqs = [r["seq"] for r in await db.fetch("SELECT seq FROM labgate_audit ORDER BY seq")]
    assert seqs == list(range(1, 901))


async def _has_error(sink: PostgresSink) -> bool:
    return sink.last_error is not None


async def test_start_and_stop_while_postgres_is_away(tmp_path: Path, pg_proxy: TcpProxy) -> None:
    await pg_proxy.stop()
    dsn = f"postgresql://postgres:s3cret-pw@127.0.0.1:{pg_proxy.port}/nowhere"
    async with Journal(tmp_path / "j.db") as j:
        await j.append(make_record(0))
        sink = PostgresSink(dsn, j, stop_timeout=2.0)
        await sink.start()
        await wait_for(lambda: _has_error(sink))
        # stop() gives up on the away server after stop_timeout; 60 s would mean it hung.
        await asyncio.wait_for(sink.stop(), timeout=60)
        assert sink.lag == 1
        assert "s3cret-pw" not in (sink.last_error or "")
    assert describe_dsn(dsn) == f"127.0.0.1:{pg_proxy.port}/nowhere"
    assert describe_dsn("host=db port=5433 dbname=audit password=x") == "db:5433/audit"


async def test_stalled_postgres_times_out_and_says_so(
    journal: Journal,
    db: asyncpg.Connection,
    pg_dsn: str,
    pg_proxy: TcpProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL accepts connections and never answers: the shipper reports it, then recovers."""
    sink = PostgresSink(proxied(pg_dsn, pg_proxy), journal, batch_size=50, interval=0.02)
    sink.ship_timeout = 0.5
    sink.max_backoff = 0.3
    await sink.start()
    try:
        for i in range(20):
            await journal.append(make_record(i))
        await wait_for(lambda: _lag_zero(sink))
        pg_proxy.stall()  # the pooled connection and any new one: open, silent
        for i in range(20, 40):
            await journal.append(make_record(i))
        with caplog.at_level(logging.WARNING, "labgate.audit.postgres"):
            await wait_for(lambda: _has_error(sink))
        assert sink.lag == 20
        assert sink.last_error == ("ShipTimeout: no answer from PostgreSQL within 0.5 s (stalled)")
        assert "within 0.5 s (stalled)" in caplog.text
        assert f"127.0.0.1:{pg_proxy.port}/" in caplog.text
        pg_proxy.resume()
        await wait_for(lambda: _lag_zero(sink))
        await wait_for(lambda: _no_error(sink))
    finally:
        await sink.stop()
    assert await count(db) == 40


async def _no_error(sink: PostgresSink) -> bool:
    return sink.last_error is None
