"""One writer per journal: a second writer is refused at start, a foreign row fails closed."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.audit.journal import Journal
from gateway.audit.lock import JournalLocked, lock_path
from gateway.errors import AuditUnavailable
from tests.gateway.audit.records import make_record
from tests.support.live import ROOT, live_config, running, token_headers
from tests.support.net import free_port


async def test_a_second_writer_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    first = Journal(path)
    await first.open()
    try:
        second = Journal(path)
        with pytest.raises(JournalLocked) as info:
            await second.open()
        assert str(path) in str(info.value) and f"pid {os.getpid()}" in str(info.value)
        assert await first.append(make_record(1)) == 1
    finally:
        await first.close()
    async with Journal(path) as again:
        assert await again.append(make_record(2)) == 2
    assert lock_path(path).exists()


def _foreign_row(path: Path, seq: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO journal VALUES (?, ?, ?, ?, ?)", (seq, f"foreign-{seq}", "{}", "x", "y")
        )


async def test_a_row_written_by_someone_else_fails_writes_and_check(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    await journal.append(make_record(1))
    assert await journal.check()
    _foreign_row(journal.path, 2)  # a writer that ignores the lock
    with caplog.at_level(logging.ERROR, "labgate.audit.journal"):
        with pytest.raises(AuditUnavailable):
            await journal.append(make_record(3))
        assert not journal.healthy
        assert not await journal.check()
    assert "journal was written by someone else" in caplog.text


def test_second_serve_on_one_journal_refuses_to_start_and_the_first_keeps_serving(
    tmp_path: Path,
) -> None:
    config = live_config(tmp_path)
    with running(tmp_path, config) as live:
        auth = token_headers(tmp_path)
        second = {
            **live.config,
            "listen": {"host": "127.0.0.1", "port": free_port()},
            "operator_listen": {"host": "127.0.0.1", "port": free_port()},
        }
        cfg = tmp_path / "second.yaml"
        cfg.write_text(yaml.safe_dump(second))
        env = {**os.environ, "LABGATE_CONFIG": str(cfg), "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "serve"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert f"audit journal {live.journal} is in use by another labgate process" in done.stderr
        r = httpx.post(live.base + "/v1/tools/testcap_echo", json={"text": "hi"}, headers=auth)
        assert r.status_code == 200, r.text
        assert httpx.get(live.ops + "/readyz").status_code == 200

        # a writer that ignores the lock: calls fail closed, /readyz says so, the log too
        seq = _last_seq(live.journal)
        _foreign_row(live.journal, seq + 1)
        r = httpx.post(live.base + "/v1/tools/testcap_echo", json={"text": "hi"}, headers=auth)
        assert r.status_code == 503
        ready = httpx.get(live.ops + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["journal"]["writable"] is False
        assert "journal was written by someone else" in live.log()


def _last_seq(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT max(seq) FROM journal").fetchone()[0] or 0)
