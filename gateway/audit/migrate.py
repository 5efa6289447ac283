"""PostgreSQL schema migrations for the audit table.

``migrations/NNNN_name.sql`` files are applied in name order, each once, recorded in
``labgate_schema_migrations``. All of it runs in one transaction under an advisory lock, so
two gateways starting together apply nothing twice and a failed migration leaves no trace.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

__all__ = ["LOCK_KEY", "migrate", "migration_files"]

#: pg_advisory_xact_lock key: "labgate" in ASCII.
LOCK_KEY = 0x6C61626761746500

_TABLE = """
CREATE TABLE IF NOT EXISTS labgate_schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files() -> list[tuple[str, str]]:
    """``(version, sql)`` pairs in order; the version is the file name without ``.sql``."""
    folder = resources.files(__package__ or "gateway.audit") / "migrations"
    found = [f for f in folder.iterdir() if f.name.endswith(".sql")]
    return [(f.name.removesuffix(".sql"), f.read_text("utf-8")) for f in sorted(found, key=_name)]


def _name(f: Any) -> str:
    return str(f.name)


async def migrate(conn: Any) -> list[str]:
    """Apply pending migrations on an asyncpg connection; returns the versions applied."""
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        await conn.execute(_TABLE)
        done = {
            r["version"] for r in await conn.fetch("SELECT version FROM labgate_schema_migrations")
        }
        for version, sql in migration_files():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO labgate_schema_migrations (version) VALUES ($1)", version
            )
            applied.append(version)
    return applied
