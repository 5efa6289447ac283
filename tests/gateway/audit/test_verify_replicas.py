"""``audit verify`` over the chains of several replicas in one PostgreSQL table."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from gateway.audit.journal import Journal
from gateway.audit.migrate import migrate
from gateway.audit.postgres import PostgresSink
from gateway.audit.sink import AuditSink
from gateway.audit.verify import averify_postgres
from tests.gateway.audit.records import make_record


async def _ship(path: Path, dsn: str, replica: str, n: int, stray: str | None = None) -> None:
    async with Journal(path) as journal:
        sink = AuditSink(journal, replica=replica)
        for i in range(n):
            await sink.write(make_record(i))
        if stray is not None:  # a record that names another replica in this chain
            await journal.append(make_record(99, replica=stray))
        shipper = PostgresSink(dsn, journal)
        while await shipper.ship_once():
            pass
        await shipper.stop()


async def test_every_chain_and_every_replica_is_checked(tmp_path: Path, pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await migrate(conn)
        await conn.execute("TRUNCATE labgate_audit")
        await _ship(tmp_path / "a.db", pg_dsn, "gw-a", 4)
        await _ship(tmp_path / "b.db", pg_dsn, "gw-b", 3)
        assert await averify_postgres(pg_dsn, ["gw-a", "gw-b"]) == []

        missing = await averify_postgres(pg_dsn, ["gw-a", "gw-b", "gw-c"])
        assert [(p.code, p.message) for p in missing] == [
            ("replica-missing", "no record of replica 'gw-c'")
        ]
        foreign = await averify_postgres(pg_dsn, ["gw-a"])
        assert [(p.code, p.message) for p in foreign] == [
            ("replica-foreign", "3 record(s) of replica 'gw-b', which is not expected")
        ]

        await _ship(tmp_path / "c.db", pg_dsn, "gw-c", 2, stray="gw-x")
        mixed = await averify_postgres(pg_dsn, ["gw-a", "gw-b", "gw-c", "gw-x"])
        assert [p.code for p in mixed] == ["replica-mixed"]
        assert "['gw-c', 'gw-x']" in mixed[0].message

        # A broken chain names its journal and replica.
        await conn.execute(
            "UPDATE labgate_audit SET record = replace(record, 'M31', 'M32')"
            " WHERE replica = 'gw-b' AND seq = 2"
        )
        broken = await averify_postgres(pg_dsn, [])
        hashes = [p for p in broken if p.code == "hash-mismatch"]
        assert len(hashes) == 1 and "(gw-b)" in hashes[0].message
    finally:
        await conn.execute("TRUNCATE labgate_audit")
        await conn.close()
