"""The ``labgate doctor`` arguments and entry point (kept light: imports happen on run).

``run`` returns what it found (:class:`~gateway.cliresult.CommandResult`); gateway/cli.py
prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from gateway.cliresult import CommandResult

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too (for CI)")
    parser.add_argument(
        "--claims",
        help='scope preview for a principal given as token claims, e.g. {"client_id":"hermes"}',
    )
    parser.add_argument("--client", help="scope preview for this client id (with --group)")
    parser.add_argument(
        "--group", action="append", help="group of the previewed principal (repeatable)"
    )


class _BadClaims(ValueError):
    pass


def _claims(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.claims:
        try:
            claims = json.loads(args.claims)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise _BadClaims("--claims must be a JSON object")
        return claims
    if args.client or args.group:
        claims = {"sub": "doctor-preview", "client_id": args.client, "groups": args.group or []}
        return {k: v for k, v in claims.items() if v is not None}
    return None


def run(args: argparse.Namespace) -> CommandResult:
    from gateway.doctor.runner import run_doctor

    try:
        claims = _claims(args)
    except _BadClaims as exc:
        return CommandResult(errors=[f"labgate doctor: {exc}"], exit_code=2)
    report = asyncio.run(run_doctor(args.config, claims=claims))
    text = report.as_json(strict=args.strict) if args.json else report.as_text()
    return CommandResult([text], report.exit_code(strict=args.strict))
