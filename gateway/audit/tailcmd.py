"""``labgate audit tail``: the last records, filtered, as JSON lines or a table.

    labgate audit tail -n 50 --decision deny --since 2h --table
    labgate audit tail -f --tool documents_search --principal hermes

Filters match the stored record: ``--decision`` (allow, deny, error), ``--tool`` (a glob),
``--principal`` (the subject, client id or username), ``--since`` (an ISO time or ``30m``,
``2h``, ``7d`` ago). Exit 2 when the journal does not exist.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TextIO

__all__ = ["audit_tail_arguments", "parse_since", "record_filter", "run_audit_tail"]

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_COLUMNS = ("seq", "time", "decision", "tool", "principal", "reasons", "ms")


def audit_tail_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=20, help="how many records (matching ones)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    parser.add_argument("--journal", help="journal file (default: journal_path)")
    parser.add_argument("--decision", choices=("allow", "deny", "error"), help="only this one")
    parser.add_argument("--tool", help="only tools matching this glob, e.g. 'documents_*'")
    parser.add_argument("--principal", help="only this subject, client id or username")
    parser.add_argument("--since", help="only records after this: ISO time, or 30m, 2h, 7d ago")
    parser.add_argument("--table", action="store_true", help="a table instead of JSON lines")


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``/``2h``/``7d`` ago, or an ISO 8601 time (UTC when it has no offset)."""
    ago = _AGO.match(text)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: not an ISO time nor 30m/2h/7d") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def record_filter(args: argparse.Namespace, now: datetime) -> Callable[[dict[str, Any]], bool]:
    since = parse_since(args.since, now) if args.since else None

    def keep(record: dict[str, Any]) -> bool:
        if args.decision and record.get("decision") != args.decision:
            return False
        if args.tool and not fnmatchcase(str(record.get("tool") or ""), args.tool):
            return False
        who = {record.get("sub"), record.get("client_id"), record.get("username")}
        if args.principal and args.principal not in who:
            return False
        if since is not None:
            try:
                when = datetime.fromisoformat(str(record.get("time")))
            except ValueError:
                return False
            return when >= since
        return True

    return keep


def _row(seq: int, record: dict[str, Any]) -> tuple[str, ...]:
    who = record.get("client_id") or "-"
    if record.get("username") or record.get("sub"):
        who += f"/{record.get('username') or record.get('sub')}"
    latency = record.get("latency_ms")
    return (
        str(seq),
        str(record.get("time", ""))[:23],
        str(record.get("decision") or record.get("kind") or ""),
        str(record.get("tool") or "-"),
        who,
        ",".join(record.get("reasons") or []),
        "" if latency is None else f"{latency:.0f}",
    )


def _table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    for row in [_COLUMNS, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def run_audit_tail(
    journal: Path, args: argparse.Namespace, *, out: TextIO | None = None, poll: float = 0.5
) -> int:
    from gateway.audit.log import AuditLog
    from gateway.audit.reader import JournalReader

    out = out or sys.stdout
    try:
        keep = record_filter(args, datetime.now(UTC))
    except ValueError as exc:
        print(f"labgate audit tail: {exc}", file=sys.stderr)
        return 2
    if not journal.is_file():
        print(f"labgate audit tail: no journal at {journal}", file=sys.stderr)
        return 2
    log = AuditLog()
    with JournalReader(journal) as reader:
        last: deque[tuple[Any, dict[str, Any]]] = deque(maxlen=max(args.n, 0))
        for row in reader.iter_rows():
            record = json.loads(row.record)
            if keep(record):
                last.append((row, record))
        if args.table:
            _table([_row(row.seq, record) for row, record in last], out)
        else:
            for row, _ in last:
                print(log.line(row), file=out, flush=True)
        seq = reader.last_seq()
        try:
            while args.follow:
                rows = reader.rows_after(seq, 1000)
                for row in rows:
                    seq = row.seq
                    record = json.loads(row.record)
                    if keep(record):
                        text = "  ".join(_row(row.seq, record)) if args.table else log.line(row)
                        print(text, file=out, flush=True)
                if not rows:
                    time.sleep(poll)
        except KeyboardInterrupt:
            pass
    return 0
