"""``labgate policy replay PROPOSED_DIR``: the command line.

    labgate policy replay proposed/ --since 7d --postgres --fail-on widen
    labgate policy replay proposed/ --journal var/audit.db --baseline policies/ --json

Exit codes: 0 done (nothing to fail on), 1 the proposed set does not load or ``--fail-on``
found what it fails on, 2 bad usage, no journal, or PostgreSQL unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.audit.tailcmd import parse_since
from gateway.capability import Capability
from gateway.cliresult import CommandResult
from gateway.errors import PolicyError
from gateway.policy.loader import PolicyLoadError, load_policy_dir
from gateway.policy.policyset import PolicySet
from gateway.policy.replay.calls import parse_call
from gateway.policy.replay.decide import replay_call
from gateway.policy.replay.report import FailOn, Report
from gateway.policy.replay.sources import journal_records, postgres_records

__all__ = ["add_arguments", "replay", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("proposed", help="the proposed policy directory")
    parser.add_argument("--since", default="7d", help="window start: ISO time, or 30m, 2h, 7d ago")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--journal", help="read this journal (default: journal_path)")
    source.add_argument("--postgres", action="store_true", help="read the configured PostgreSQL")
    source.add_argument("--dsn", help="read the PostgreSQL audit table at this DSN")
    parser.add_argument(
        "--baseline", help="the policy directory in force, to compare obligations under one rule"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--fail-on", choices=("widen", "any"), help="exit 1 on widening flips, or on any flip"
    )
    parser.add_argument(
        "--allow-undecidable", action="store_true", help="undecidable calls do not fail"
    )


def _load(
    path: Path, capabilities: Mapping[str, Capability], res: CommandResult
) -> PolicySet | None:
    try:
        return load_policy_dir(path, capabilities)
    except PolicyError as exc:
        for problem in exc.problems if isinstance(exc, PolicyLoadError) else (exc,):
            res.say(str(problem))
        return None


async def _collect(
    records: Iterable[dict[str, Any]] | AsyncIterator[dict[str, Any]],
    report: Report,
    proposed: PolicySet,
    capabilities: Mapping[str, Capability],
    baseline: PolicySet | None,
) -> None:
    def one(record: dict[str, Any]) -> None:
        report.count_record()
        call = parse_call(record)
        if call is not None:
            report.add(replay_call(call, proposed, capabilities, baseline))

    if isinstance(records, AsyncIterator):
        async for record in records:
            one(record)
    else:
        for record in records:
            one(record)


def replay(
    proposed: PolicySet,
    capabilities: Mapping[str, Capability],
    since: datetime,
    *,
    journal: Path | None = None,
    dsn: str | None = None,
    baseline: PolicySet | None = None,
) -> Report:
    """Replay every call record since ``since`` (from ``dsn`` when given, else ``journal``)."""
    report = Report(proposed.version, since, baseline.version if baseline else None)
    if dsn is not None:
        source: Any = postgres_records(dsn, since)
    else:
        assert journal is not None
        source = journal_records(journal, since)
    asyncio.run(_collect(source, report, proposed, capabilities, baseline))
    return report


def run(
    args: argparse.Namespace,
    capabilities: Mapping[str, Capability],
    journal: Path | None,
    dsn: str | None,
    *,
    now: datetime | None = None,
) -> CommandResult:
    """The command: load the sets, read the window, return the report and the exit code."""
    res = CommandResult()
    try:
        since = parse_since(args.since, now or datetime.now(UTC))
    except ValueError as exc:
        res.errors.append(f"labgate: {exc}")
        return res.end(2)
    proposed = _load(Path(args.proposed), capabilities, res)
    baseline = _load(Path(args.baseline), capabilities, res) if args.baseline else None
    if proposed is None or (args.baseline and baseline is None):
        return res.end(1)
    try:
        report = replay(proposed, capabilities, since, journal=journal, dsn=dsn, baseline=baseline)
    except (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        where = "PostgreSQL" if dsn is not None else str(journal)
        res.errors.append(f"labgate: cannot read the audit records ({where}): {exc}")
        return res.end(2)
    text = io.StringIO()
    if args.json:
        report.print_json(text)
    else:
        report.print_table(text)
    res.say(text.getvalue().rstrip("\n"))
    fail_on: FailOn | None = args.fail_on
    return res.end(report.exit_code(fail_on, args.allow_undecidable))
