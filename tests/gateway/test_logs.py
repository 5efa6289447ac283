"""Log lines are JSON objects, one per line; audit lines are the record itself."""

from __future__ import annotations

import json
import logging

import pytest

from gateway.audit.chain import Row
from gateway.audit.log import AuditLog
from gateway.audit.record import AuditRecord
from gateway.logs import configure_logging


def test_lines_are_json_and_audit_lines_are_flat(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    try:
        logging.getLogger("labgate").info("policy %s in force", "abc", extra={"key": "v"})
        record = AuditRecord(kind="call", tool="testcap_echo", decision="allow")
        row = Row(seq=7, event_id=record.event_id, record=record.to_json(), prev_hash="0", hash="h")
        AuditLog().emit(row)
        logging.getLogger("httpx").info("GET http://x/?token=secret")
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger("labgate.audit").handlers.clear()
        logging.getLogger("labgate.audit").propagate = True
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["msg"] == "policy abc in force" and lines[0]["key"] == "v"
    assert lines[1]["event"] == "audit" and lines[1]["tool"] == "testcap_echo"
    assert lines[1]["seq"] == 7
    assert len(lines) == 2  # httpx's INFO line (full URL) is not logged
