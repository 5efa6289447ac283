"""``labgate audit verify|tail`` over a tampered journal and a tampered PostgreSQL table."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.audit.chain import link
from gateway.audit.compare import acompare_stores
from gateway.audit.journal import Journal
from gateway.audit.migrate import migrate
from gateway.audit.postgres import PostgresSink
from gateway.audit.verify import (
    averify_postgres,
    cmd_tail,
    cmd_verify,
    verify_journal,
    verify_postgres,
)
from tests.gateway.audit.records import make_record


@pytest.fixture
async def filled(tmp_path: Path) -> AsyncIterator[Journal]:
    async with Journal(tmp_path / "audit.db") as j:
        for i in range(6):
            await j.append(make_record(i))
        yield j


def tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def codes(problems: list) -> set[str]:  # type: ignore[type-arg]
    return {p.code for p in problems}


async def test_intact_journal_passes(filled: Journal) -> None:
    assert verify_journal(filled.path) == []
    result = cmd_verify(filled.path, None)
    assert result.exit_code == 0
    assert "chain intact" in result.text


async def test_edited_journal_record_is_found(filled: Journal) -> None:
    tamper(
        filled.path, "UPDATE journal SET record = replace(record, 'allow', 'deny') WHERE seq = 3"
    )
    problems = verify_journal(filled.path)
    assert [(p.seq, p.code) for p in problems] == [(3, "hash-mismatch")]
    result = cmd_verify(filled.path, None)
    assert result.exit_code == 1
    assert "seq 3: hash-mismatch" in result.text


async def test_deleted_journal_record_is_found(filled: Journal) -> None:
    tamper(filled.path, "DELETE FROM journal WHERE seq = 4")
    assert {(p.seq, p.code) for p in verify_journal(filled.path)} == {
        (5, "seq-gap"),
        (5, "chain-break"),
    }


async def test_reordered_journal_records_are_found(filled: Journal) -> None:
    tamper(
        filled.path,
        "UPDATE journal SET seq = -1 WHERE seq = 2",
        "UPDATE journal SET seq = 2 WHERE seq = 3",
        "UPDATE journal SET seq = 3 WHERE seq = -1",
    )
    assert "chain-break" in codes(verify_journal(filled.path))


async def test_rows_cut_from_the_end_after_shipping_are_found(filled: Journal) -> None:
    await filled.set_shipped_cursor(6)
    tamper(filled.path, "DELETE FROM journal WHERE seq > 4")
    assert [(p.seq, p.code) for p in verify_journal(filled.path)] == [(5, "tail-missing")]


def test_verify_reports_unreadable_sources(tmp_path: Path) -> None:
    assert cmd_verify(tmp_path / "absent.db", None).exit_code == 2
    assert cmd_verify(None, None).exit_code == 2
    assert cmd_verify(None, "postgresql://postgres@127.0.0.1:1/none").exit_code == 2


@pytest.fixture
async def shipped(filled: Journal, pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pg_dsn)
    await migrate(conn)
    await conn.execute("TRUNCATE labgate_audit")
    sink = PostgresSink(pg_dsn, filled)
    assert await sink.ship_once() == 6
    await sink.stop()
    yield conn
    await conn.close()


async def test_intact_postgres_passes(shipped: asyncpg.Connection, pg_dsn: str) -> None:
    assert await averify_postgres(pg_dsn) == []
    assert await asyncio.to_thread(verify_postgres, pg_dsn) == []
    assert (await asyncio.to_thread(cmd_verify, None, pg_dsn)).exit_code == 0


async def test_edited_postgres_column_is_found(shipped: asyncpg.Connection, pg_dsn: str) -> None:
    await shipped.execute("UPDATE labgate_audit SET decision = 'deny' WHERE seq = 2")
    await shipped.execute("UPDATE labgate_audit SET arguments = '{}' WHERE seq = 5")
    problems = await averify_postgres(pg_dsn)
    assert [(p.seq, p.code) for p in problems] == [(2, "column-mismatch"), (5, "column-mismatch")]
    assert "decision" in problems[0].message


async def test_edited_postgres_record_is_found(shipped: asyncpg.Connection, pg_dsn: str) -> None:
    await shipped.execute(
        "UPDATE labgate_audit SET decision = 'deny', "
        'record = replace(record, \'"decision":"allow"\', \'"decision":"deny"\') '
        "WHERE seq = 2"
    )
    assert [(p.seq, p.code) for p in await averify_postgres(pg_dsn)] == [(2, "hash-mismatch")]


async def test_deleted_postgres_row_is_found(shipped: asyncpg.Connection, pg_dsn: str) -> None:
    await shipped.execute("DELETE FROM labgate_audit WHERE seq = 3")
    assert codes(await averify_postgres(pg_dsn)) == {"seq-gap", "chain-break"}
    assert (await asyncio.to_thread(cmd_verify, None, pg_dsn)).exit_code == 1


async def test_reordered_postgres_rows_are_found(shipped: asyncpg.Connection, pg_dsn: str) -> None:
    for sql in (
        "UPDATE labgate_audit SET seq = -1 WHERE seq = 3",
        "UPDATE labgate_audit SET seq = 3 WHERE seq = 4",
        "UPDATE labgate_audit SET seq = 4 WHERE seq = -1",
    ):
        await shipped.execute(sql)
    assert "chain-break" in codes(await averify_postgres(pg_dsn))


async def test_tail_prints_the_last_records_as_json_lines(filled: Journal) -> None:
    out = io.StringIO()
    assert cmd_tail(filled.path, 2, False, out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [5, 6]
    assert all(line["event"] == "audit" and len(line["hash"]) == 64 for line in lines)
    assert lines[0]["tool"] == "astro_list_sessions"
    assert cmd_tail(filled.path.with_name("absent.db"), 2, False) == 2


async def test_tail_follow_prints_new_records(filled: Journal) -> None:
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(
        target=cmd_tail,
        args=(filled.path, 1, True),
        kwargs={"out": out, "poll": 0.02, "stop": stop},
    )
    thread.start()
    try:
        await _lines(out, 1)
        await filled.append(make_record(10))
        await filled.append(make_record(11))
        await _lines(out, 3)
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 5)
    seqs = [json.loads(line)["seq"] for line in out.getvalue().splitlines()]
    assert seqs == [6, 7, 8]


async def _lines(out: io.StringIO, n: int) -> None:
    for _ in range(250):
        if len(out.getvalue().splitlines()) >= n:
            return
        await asyncio.sleep(0.02)


async def _verify_both(journal: Path, dsn: str) -> tuple[int, str]:
    result = await asyncio.to_thread(cmd_verify, journal, dsn)
    return result.exit_code, result.text


async def test_both_stores_agree(shipped: asyncpg.Connection, filled: Journal, pg_dsn: str) -> None:
    result = await acompare_stores(filled.path, pg_dsn)
    assert result.problems == [] and result.parted_at is None
    assert (result.journal_count, result.postgres_count, result.cursor) == (6, 6, 6)
    assert result.journal_tip == result.postgres_tip and result.journal_tip is not None
    status, text = await _verify_both(filled.path, pg_dsn)
    assert status == 0
    assert "6 records" in text and "they agree" in text


async def test_rows_deleted_from_postgres_end_are_found(
    shipped: asyncpg.Connection, filled: Journal, pg_dsn: str
) -> None:
    await shipped.execute("DELETE FROM labgate_audit WHERE seq > 4")
    assert await averify_postgres(pg_dsn) == []  # PostgreSQL's own chain is intact
    result = await acompare_stores(filled.path, pg_dsn)
    assert [(p.seq, p.code) for p in result.problems] == [(5, "postgres-missing")]
    assert result.problems[0].message.startswith("seq 5..6 (2): shipped (journal cursor 6)")
    assert (result.parted_at, result.postgres_count, result.journal_count) == (5, 4, 6)
    status, text = await _verify_both(filled.path, pg_dsn)
    assert status == 1
    assert "the stores part at seq 5" in text and "postgres-missing" in text


async def test_journal_tail_cut_with_cursor_moved_back_is_found(
    shipped: asyncpg.Connection, filled: Journal, pg_dsn: str
) -> None:
    path = filled.path
    await filled.close()
    tamper(
        path,
        "DELETE FROM journal WHERE seq > 4",
        "UPDATE meta SET value = '4' WHERE key = 'shipped_cursor'",
    )
    assert verify_journal(path) == []  # the journal's own chain is intact
    result = await acompare_stores(path, pg_dsn)
    assert [(p.seq, p.code) for p in result.problems] == [(5, "journal-missing")]
    assert result.parted_at == 5 and result.journal_tip is not None
    assert result.journal_tip[0] == 4 and result.postgres_tip is not None
    assert result.postgres_tip[0] == 6
    status, text = await _verify_both(path, pg_dsn)
    assert status == 1 and "journal-missing" in text


async def test_a_rehashed_forgery_in_postgres_is_found(
    shipped: asyncpg.Connection, filled: Journal, pg_dsn: str
) -> None:
    # Someone rewrites PostgreSQL's last row and recomputes its hash: its chain stays intact.
    prev, text = await shipped.fetchrow("SELECT prev_hash, record FROM labgate_audit WHERE seq = 6")
    forged = text.replace('"decision":"allow"', '"decision":"deny"')
    assert forged != text
    await shipped.execute(
        "UPDATE labgate_audit SET record = $1, hash = $2, decision = 'deny' WHERE seq = 6",
        forged,
        link(prev, forged),
    )
    assert await averify_postgres(pg_dsn) == []
    result = await acompare_stores(filled.path, pg_dsn)
    assert [(p.seq, p.code) for p in result.problems] == [(6, "record-differs")]


async def test_rows_pruned_from_the_journal_are_not_missing(
    shipped: asyncpg.Connection, filled: Journal, pg_dsn: str
) -> None:
    path = filled.path
    await filled.close()
    with sqlite3.connect(path) as conn:
        (anchor,) = conn.execute("SELECT hash FROM journal WHERE seq = 2").fetchone()
        conn.execute("DELETE FROM journal WHERE seq <= 2")
        conn.execute("INSERT INTO meta VALUES ('pruned_through_seq', '2')")
        conn.execute("INSERT INTO meta VALUES ('pruned_through_hash', ?)", (anchor,))
    conn.close()
    result = await acompare_stores(path, pg_dsn)
    assert result.problems == [] and (result.journal_count, result.postgres_count) == (4, 6)
    assert (await _verify_both(path, pg_dsn))[0] == 0
