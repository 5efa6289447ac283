"""Schema migrations: idempotent, concurrent-safe, complete."""

from __future__ import annotations

import asyncio

import asyncpg

from gateway.audit.migrate import migrate, migration_files
from gateway.audit.pgrow import COLUMNS


async def _migrate(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def test_migrations_are_idempotent_and_safe_to_run_together(pg_dsn: str) -> None:
    results = await asyncio.gather(*(_migrate(pg_dsn) for _ in range(4)))
    applied = [r for r in results if r]
    assert len(applied) <= 1  # the session database may have been migrated by another test
    assert await _migrate(pg_dsn) == []
    conn = await asyncpg.connect(pg_dsn)
    try:
        versions = await conn.fetch("SELECT version FROM labgate_schema_migrations")
        assert sorted(v["version"] for v in versions) == [v for v, _ in migration_files()]
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'labgate_audit' ORDER BY ordinal_position"
        )
        # Columns added by later migrations follow ``shipped_at``, which is never inserted.
        physical = [c["column_name"] for c in columns if c["column_name"] != "shipped_at"]
        assert physical == list(COLUMNS)
        indexes = {
            r["indexname"]
            for r in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = $1", "labgate_audit"
            )
        }
        assert {
            "labgate_audit_time",
            "labgate_audit_tool_time",
            "labgate_audit_request_id",
        } <= indexes
        assert await conn.fetchval("SELECT to_regclass('labgate_audit_calls')") is not None
    finally:
        await conn.close()


def test_migration_files_are_ordered_and_named() -> None:
    versions = [v for v, _ in migration_files()]
    assert versions == sorted(versions)
    assert versions[0] == "0001_audit"
