"""The recorded calls of one window, from the local journal or from PostgreSQL.

Both read the exact record text the hash chain covers (the journal's ``record``, the
``record`` column of ``labgate_audit``), so a call reads the same from either store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.audit.reader import JournalReader

__all__ = ["journal_records", "postgres_records"]

_QUERY = "SELECT record FROM labgate_audit WHERE kind = 'call' AND time >= $1 ORDER BY time, seq"


def _record(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _since(record: dict[str, Any], since: datetime) -> bool:
    try:
        when = datetime.fromisoformat(str(record.get("time")))
    except ValueError:
        return False
    return when.tzinfo is not None and when >= since


def journal_records(path: Path, since: datetime) -> Iterator[dict[str, Any]]:
    """Call records at or after ``since``, in journal order."""
    with JournalReader(path) as reader:
        for row in reader.iter_rows():
            record = _record(row.record)
            if record is not None and record.get("kind") == "call" and _since(record, since):
                yield record


async def postgres_records(dsn: str, since: datetime) -> AsyncIterator[dict[str, Any]]:
    """Call records at or after ``since`` from ``labgate_audit``, oldest first."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            async for row in conn.cursor(_QUERY, since, prefetch=2000):
                record = _record(str(row["record"]))
                if record is not None:
                    yield record
    finally:
        await conn.close()
