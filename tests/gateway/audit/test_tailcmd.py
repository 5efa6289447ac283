"""``labgate audit tail`` filters, table view and exit codes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit.journal import Journal
from gateway.audit.record import AuditRecord
from gateway.audit.tailcmd import parse_since, run_audit_tail
from gateway.cli import build_parser

NOW = datetime.now(UTC)


async def _journal(path: Path) -> Path:
    records = [
        AuditRecord(kind="call", tool="health_summary", decision="allow", client_id="hermes",
                    sub="agent-1", reasons=["allowed"], latency_ms=12.0,
                    time=(NOW - timedelta(hours=3)).isoformat()),
        AuditRecord(kind="call", tool="documents_search", decision="deny", client_id="hermes",
                    sub="agent-1", reasons=["arg-out-of-range"],
                    time=(NOW - timedelta(hours=1)).isoformat()),
        AuditRecord(kind="call", tool="documents_get", decision="allow", client_id="other",
                    sub="agent-2", reasons=["allowed"], time=NOW.isoformat()),
    ]  # fmt: skip
    async with Journal(path) as journal:
        for record in records:
            await journal.append(record)
    return path


def _tail(journal: Path, *argv: str) -> tuple[int, str]:
    args = build_parser().parse_args(["audit", "tail", *argv])
    out = io.StringIO()
    return run_audit_tail(journal, args, out=out), out.getvalue()


async def test_filters_combine(tmp_path: Path) -> None:
    journal = await _journal(tmp_path / "audit.db")
    code, out = _tail(journal, "--decision", "allow")
    assert code == 0 and [json.loads(x)["tool"] for x in out.splitlines()] == [
        "health_summary",
        "documents_get",
    ]
    _, out = _tail(journal, "--tool", "documents_*", "--principal", "hermes")
    assert [json.loads(x)["tool"] for x in out.splitlines()] == ["documents_search"]
    _, out = _tail(journal, "--since", "2h")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [2, 3]
    _, out = _tail(journal, "--principal", "agent-2", "-n", "5")
    assert [json.loads(x)["sub"] for x in out.splitlines()] == ["agent-2"]


async def test_n_counts_matching_records(tmp_path: Path) -> None:
    journal = await _journal(tmp_path / "audit.db")
    _, out = _tail(journal, "-n", "1", "--decision", "allow")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [3]


async def test_table_view(tmp_path: Path) -> None:
    journal = await _journal(tmp_path / "audit.db")
    code, out = _tail(journal, "--table", "--decision", "deny")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "seq",
        "time",
        "decision",
        "tool",
        "principal",
        "reasons",
        "ms",
    ]
    assert lines[1].split()[2:] == [
        "deny",
        "documents_search",
        "hermes/agent-1",
        "arg-out-of-range",
    ]


def test_missing_journal_and_bad_since_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _tail(tmp_path / "absent.db")[0] == 2
    assert "no journal at" in capsys.readouterr().err
    assert _tail(tmp_path / "absent.db", "--since", "yesterday")[0] == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_parse_since() -> None:
    assert parse_since("30m", NOW) == NOW - timedelta(minutes=30)
    assert parse_since("2026-11-25T12:00:00", NOW) == datetime(2026, 11, 25, 12, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_since("soon", NOW)
