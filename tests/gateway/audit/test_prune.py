"""Pruning the journal: only shipped, old records go; the rest still verifies."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit.journal import Journal
from gateway.audit.prune import cmd_prune, prune
from gateway.audit.verify import verify_journal

from .records import make_record

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def _fill(journal: Journal, days_old: list[int]) -> None:
    for i, days in enumerate(days_old):
        stamp = (NOW - timedelta(days=days)).isoformat(timespec="microseconds")
        await journal.append(make_record(i, time=stamp))


async def test_only_shipped_old_records_are_removed(journal: Journal) -> None:
    await _fill(journal, [200, 150, 120, 100, 10, 5, 1])
    await journal.set_shipped_cursor(2)  # records 1-2 are in PostgreSQL, 3-7 are not
    path = journal.path
    removed, anchor = prune(path, NOW - timedelta(days=90))
    assert (removed, anchor) == (2, 2)  # 3 and 4 are old but not shipped: kept
    assert verify_journal(path) == []
    await journal.set_shipped_cursor(7)
    removed, anchor = prune(path, NOW - timedelta(days=90))
    assert (removed, anchor) == (2, 4)  # now 3 and 4; the recent ones stay
    assert verify_journal(path) == []
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT seq FROM journal ORDER BY seq")] == [5, 6, 7]
    # New records keep chaining onto the pruned journal.
    await journal.append(make_record(99))
    assert verify_journal(path) == []


async def test_a_journal_that_is_never_shipped_is_never_pruned(journal: Journal) -> None:
    await _fill(journal, [400, 300])
    assert prune(journal.path, NOW) == (0, 0)


async def test_tampering_after_a_prune_is_still_found(journal: Journal) -> None:
    await _fill(journal, [200, 150, 5, 1])
    await journal.set_shipped_cursor(4)
    prune(journal.path, NOW - timedelta(days=90))
    with sqlite3.connect(journal.path) as conn:
        conn.execute(
            "UPDATE journal SET record = replace(record, 'hermes', 'mallory') WHERE seq = 3"
        )
    problems = verify_journal(journal.path)
    assert problems and problems[0].seq == 3


def test_command_refuses_to_keep_less_than_a_day(tmp_path: Path) -> None:
    assert cmd_prune(tmp_path / "audit.db", 0.5, now=NOW).exit_code == 2
    assert cmd_prune(tmp_path / "missing.db", 30, now=NOW).exit_code == 2


async def test_the_cli_prunes(journal: Journal, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    await _fill(journal, [4000, 3000, 0])
    await journal.set_shipped_cursor(3)
    assert main(["audit", "prune", "--journal", str(journal.path), "--keep-days", "30"]) == 0
    assert "2 shipped record(s) removed" in capsys.readouterr().out
    assert main(["audit", "verify", "--journal", str(journal.path)]) == 0


async def test_pruning_every_record_keeps_the_writer_and_the_chain(journal: Journal) -> None:
    await _fill(journal, [200, 150])
    await journal.set_shipped_cursor(2)
    assert prune(journal.path, NOW - timedelta(days=90)) == (2, 2)  # the tip is gone too
    assert await journal.check()  # not mistaken for a foreign writer
    await _fill(journal, [100])  # appended after the prune: seq 3
    await journal.set_shipped_cursor(3)
    assert prune(journal.path, NOW - timedelta(days=90)) == (1, 3)
    await journal.close()
    async with Journal(journal.path) as again:  # a restart: continues from the anchor
        assert await again.append(make_record(11)) == 4
    assert verify_journal(journal.path) == []
