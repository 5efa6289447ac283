"""``labgate approvals list | show | approve | deny``: the operator's side, without Matrix.

The commands read the proposal store directly. ``approve`` and ``deny`` put the decision in
the store's inbox; the running gateway carries it out within ``approvals.poll_seconds``
(audited as decided ``via: operator`` by ``operator:<login>``), or on its next start. With
``--wait``, the command waits until the proposal has left ``pending``/``approved``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.approvals.store import ProposalRow, ProposalStore
from gateway.errors import ConfigError

__all__ = ["add_arguments", "run"]

STATUSES = ("pending", "approved", "applied", "failed", "denied", "expired")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="proposal store file (default: from the settings)")
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("list", help="the latest proposals, newest first")
    p.add_argument("--status", choices=STATUSES, help="only proposals in this state")
    p.add_argument("--limit", type=int, default=50, help="at most this many")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = sub.add_parser("show", help="one proposal, whole")
    p.add_argument("id", help="the proposal id")
    p.add_argument("--json", action="store_true", help="as JSON")
    for verb in ("approve", "deny"):
        p = sub.add_parser(verb, help=f"{verb} a pending proposal (carried out by the gateway)")
        p.add_argument("id", help="the proposal id")
        p.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="wait up to this long for the outcome (default: do not wait)",
        )


def _store(args: argparse.Namespace, settings: Any) -> ProposalStore:
    path = Path(args.store or settings().proposals_path())
    if not path.is_file():
        raise ConfigError(f"no proposal store at {path}", key="approvals.store_path")
    return ProposalStore(path)


def _line(row: ProposalRow) -> str:
    changes = "; ".join(f"{c.field}: {c.current} -> {c.proposed}" for c in row.changes)
    who = row.principal.get("client_id") or row.sub
    return (
        f"{row.id}  {row.status:<8}  {row.created_at:%Y-%m-%d %H:%M}  {who}  {row.target}  "
        f"{changes}"
    )


def _show(row: ProposalRow) -> str:
    d = row.to_dict()
    lines = [f"proposal {row.id}: {row.status}", f"  {row.target} «{row.title}»"]
    lines += [f"  {c['field']}: {c['current']} -> {c['proposed']}" for c in d["changes"]]
    lines += [
        f"  proposed by {row.principal.get('client_id') or row.sub} (sub {row.sub}) "
        f"with {row.tool}, rule {row.rule_id}, request {row.request_id}",
        f"  created {d['created_at']}, expires {d['expires_at']}",
        "  the agent's reason (untrusted):",
        *("    > " + line for line in row.reason.splitlines() or [""]),
    ]
    if row.decided_by:
        lines.append(f"  decided by {row.decided_by} via {row.decided_via} at {d['decided_at']}")
    if row.applied is not None:
        lines.append(f"  applied: {json.dumps(row.applied, ensure_ascii=False)}")
    if row.error:
        lines.append(f"  error: {row.error}")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Any) -> int:
    store = _store(args, settings)
    try:
        return _run(args, store)
    finally:
        store.close()


def _run(args: argparse.Namespace, store: ProposalStore) -> int:
    if args.action == "list":
        for item in store.recent(args.status, args.limit):
            print(json.dumps(item.to_dict(), ensure_ascii=False) if args.json else _line(item))
        return 0
    row = store.get(args.id)
    if row is None:
        print(f"labgate: no proposal {args.id}")
        return 1
    if args.action == "show":
        print(json.dumps(row.to_dict(), ensure_ascii=False, indent=2) if args.json else _show(row))
        return 0
    if row.status != "pending":
        print(f"labgate: proposal {row.id} is {row.status}, not pending: nothing to decide")
        return 1
    actor = f"operator:{getpass.getuser()}"
    store.enqueue(row.id, args.action, actor, datetime.now(UTC))
    print(f"{args.action} of proposal {row.id} recorded for the gateway (as {actor})")
    deadline = time.monotonic() + args.wait
    while args.wait > 0:
        now = store.get(row.id)
        if now is not None and now.status not in ("pending", "approved"):
            print(f"proposal {row.id}: {now.status}" + (f" ({now.error})" if now.error else ""))
            return 0 if now.status in ("applied", "denied") else 1
        if time.monotonic() >= deadline:
            print(f"proposal {row.id} still {now.status if now else '?'}: is the gateway running?")
            return 1
        time.sleep(0.2)
    return 0
