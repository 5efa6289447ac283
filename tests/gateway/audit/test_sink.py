"""AuditSink: durable first, then one log line; fails closed."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from gateway.audit.journal import Journal
from gateway.audit.log import LOGGER_NAME
from gateway.audit.sink import AuditSink
from gateway.errors import AuditUnavailable
from tests.gateway.audit.records import make_record


async def test_write_is_durable_then_logged(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    sink = AuditSink(journal)
    record = make_record(1)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        await sink.write(record)
    (stored,) = await journal.tail(1)
    assert stored.event_id == record.event_id
    lines = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert len(lines) == 1
    line = json.loads(lines[0].getMessage())
    assert line["event"] == "audit"
    assert line["seq"] == stored.seq and line["hash"] == stored.hash
    assert {k: v for k, v in line.items() if k not in ("event", "seq", "hash")} == record.to_dict()


async def test_write_fails_closed_and_logs_nothing(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    sink = AuditSink(journal)
    other = sqlite3.connect(journal.path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with caplog.at_level(logging.INFO, logger=LOGGER_NAME), pytest.raises(AuditUnavailable):
            await sink.write(make_record(1))
    finally:
        other.close()
    assert [r for r in caplog.records if r.name == LOGGER_NAME] == []
    assert await journal.tail(1) == []
