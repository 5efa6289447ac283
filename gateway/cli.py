"""The ``labgate`` command.

labgate serve [--workers N]         production: gateway.yaml + LABGATE_* environment
labgate demo                        sample data, dev issuer, shipped policies, local journal
labgate token                       mint a dev token (dev/demo mode only)
labgate policy check|explain|diff|test|schema|replay
labgate audit tail|verify|prune
labgate openapi                     print the OpenAPI document
labgate tools                       list every known tool and whether a policy enables it
labgate doctor                      check the deployment against the live services
labgate approvals list|show|approve|deny   proposals of write tools, decided without Matrix
labgate mcp-upstream diff|accept S  compare a fronted MCP server with its pins; pin it
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.approvals import command as approvals_command
from gateway.audit.tailcmd import audit_tail_arguments, run_audit_tail
from gateway.cliresult import CommandResult
from gateway.doctor import command as doctor_command
from gateway.errors import ConfigError, PolicyError

__all__ = ["main"]


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from gateway.settings import load_settings

    return load_settings(getattr(args, "config", None), **overrides)


def _registry(settings: Any, policy_dir: Path | None = None) -> Any:
    from gateway.registry import registry_for

    return registry_for(settings, policy_dir)


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.doctor.startup import check_startup
    from gateway.serve import run

    settings = _settings(args)
    if args.workers > 1 and args.worker is None:
        from gateway.workers import run_workers

        check_startup(settings, _registry(settings))
        return run_workers(settings, args.workers, getattr(args, "config", None))
    fd = None
    if args.worker is not None:
        from gateway.workers import worker_settings

        settings = worker_settings(settings, args.worker)
        fd = args.listen_fd
    check_startup(settings, _registry(settings))
    return run(settings, listen_fd=fd)


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return run_demo(
        port=args.port, operator_port=args.operator_port, state_dir=Path(args.state_dir)
    )


def cmd_token(args: argparse.Namespace) -> int:
    from gateway.demo import demo_settings, mint_token

    settings = _settings(args)
    demo_key = Path(args.state_dir) / "dev-key.pem"
    if settings.auth.mode != "dev" and demo_key.is_file():
        # Not configured for dev tokens: mint for the demo, whose key is in its state directory.
        settings = demo_settings(None, None, Path(args.state_dir), create=False)
    print(
        mint_token(
            settings,
            sub=args.sub,
            client_id=args.client,
            groups=args.group or [],
            ttl=args.ttl,
        )
    )
    return 0


def _show(result: CommandResult) -> int:
    """Print what a command found; its exit code is the process's."""
    sys.stdout.write(result.text)
    for line in result.errors:
        print(line, file=sys.stderr)
    return result.exit_code


def _policy_dir(args: argparse.Namespace, attr: str = "dir") -> Path:
    value = getattr(args, attr, None)
    return Path(value) if value else Path("policies")


def cmd_policy(args: argparse.Namespace) -> int:
    from gateway.policy import commands

    settings = _settings(args)
    # Fronted MCP servers' tools come from the pins beside the policies being checked.
    checked = args.action in ("check", "test", "explain")
    caps = _registry(settings, _policy_dir(args) if checked else None)
    if args.action == "check":
        return _show(commands.check(_policy_dir(args), caps))
    if args.action == "schema":
        print(json.dumps(commands.json_schema(), indent=2))
        return 0
    if args.action == "test":
        return _show(commands.test(_policy_dir(args), caps))
    if args.action == "diff":
        return _show(commands.diff(Path(args.a), Path(args.b), caps))
    if args.action == "replay":
        return _policy_replay(args, settings, caps)
    # explain
    claims = _json_object(args.claims, "--claims")
    tool_args = _json_object(args.args, "--args") if args.args else None
    try:
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    except ValueError:
        raise UsageError(f"--at {args.at!r} is not an ISO time") from None
    return _show(commands.explain(_policy_dir(args), caps, claims, args.tool, tool_args, at))


def _policy_replay(args: argparse.Namespace, settings: Any, caps: Any) -> int:
    from gateway.policy.replay import command

    dsn = args.dsn
    if args.postgres:
        if settings.postgres is None:
            raise ConfigError("--postgres needs a postgres section", key="postgres")
        dsn = settings.postgres.resolved_dsn()
    journal = None if dsn else Path(args.journal) if args.journal else settings.journal_path
    if journal is not None and not journal.is_file():
        raise UsageError(f"no journal at {journal}")
    return _show(command.run(args, caps, journal, dsn))


class UsageError(Exception):
    """Bad command-line input: one line, exit 2."""


def _json_object(text: str, flag: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise UsageError(f"{flag} is not valid JSON: {text[:60]!r}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag} must be a JSON object")
    return value


def cmd_audit(args: argparse.Namespace) -> int:
    from gateway.audit import verify
    from gateway.workers import worker_journals

    if args.action == "prune":
        from gateway.audit.prune import cmd_prune

        journal = Path(args.journal) if args.journal else _settings(args).journal_path
        return _show(cmd_prune(journal, args.keep_days, now=datetime.now(UTC)))
    if args.action == "tail":
        journal = Path(args.journal) if args.journal else _settings(args).journal_path
        return run_audit_tail(journal, args)
    journals = [Path(j) for j in args.journal or []]
    dsn = args.dsn
    replicas = list(args.replica or [])
    if (not journals and dsn is None) or (args.postgres and dsn is None) or not replicas:
        settings = _settings(args)
        replicas = replicas or list(settings.replica.expected)
        if not journals and (dsn is None or args.postgres):
            journals = worker_journals(settings.journal_path)
        if args.postgres and dsn is None:
            if settings.postgres is None:
                raise ConfigError("--postgres needs a postgres section", key="postgres")
            dsn = settings.postgres.resolved_dsn()
    return _show(verify.cmd_verify(journals, dsn, replicas=replicas))


def cmd_openapi(args: argparse.Namespace) -> int:
    from gateway.app import create_app
    from gateway.settings import load_settings

    # The document depends only on the registry: build it without reading any deployment config.
    settings = load_settings(None, sample_data=True, auth={"mode": "dev"})
    app = create_app(settings)
    print(json.dumps(app.openapi(), indent=2, sort_keys=True))
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from gateway.policy.loader import load_policy_dir

    settings = _settings(args)
    caps = _registry(settings)
    policy_set = load_policy_dir(settings.policy_dir, caps)
    for cap in caps.values():
        state = "on" if cap.name in policy_set.capabilities else "off (no policy file)"
        print(f"{cap.name}: {state}")
        for t in cap.tools:
            print(f"  {t.name:40} {t.title}")
    return 0


def cmd_mcp_upstream(args: argparse.Namespace) -> int:
    from gateway.registry import capability_command

    settings = _settings(args)
    section = settings.capabilities.get("mcp_upstream")
    if not isinstance(section, dict):
        raise ConfigError("no capabilities.mcp_upstream section", key="capabilities.mcp_upstream")
    pins_dir = Path(args.dir) if args.dir else settings.policy_dir
    return capability_command("mcp_upstream", section, pins_dir, [args.action, args.server])


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labgate")
    except PackageNotFoundError:
        return "unknown"


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    from gateway.policy.replay.command import add_arguments

    add_arguments(parser)


def _config_here(parser: argparse.ArgumentParser) -> None:
    """``--config`` after a subcommand too: the settings name the capabilities (and tools)."""
    parser.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="settings file, for the capabilities it adds (default: $LABGATE_CONFIG, "
        "else ./gateway.yaml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labgate", description="The Hermes capability server.")
    parser.add_argument("--config", type=Path, help="settings file (default: $LABGATE_CONFIG)")
    parser.add_argument("--version", action="version", version=f"labgate {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (production)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gateway processes on this host, one listening socket (default 1; docs/replicas.md)",
    )
    serve.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # set by --workers
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(fn=cmd_serve)

    demo = sub.add_parser("demo", help="run on sample data with a dev issuer")
    demo.add_argument(
        "--port", type=int, help="agent listener port (default: $LABGATE_LISTEN__PORT, else 8080)"
    )
    demo.add_argument(
        "--operator-port",
        type=int,
        help="operator listener port (default: $LABGATE_OPERATOR_LISTEN__PORT, else 9090)",
    )
    demo.add_argument("--state-dir", default="var/demo", help="dev key and audit journal")
    demo.set_defaults(fn=cmd_demo)

    token = sub.add_parser("token", help="mint a dev token (dev mode, or the demo's key)")
    token.add_argument("--sub", default="hermes-agent", help="the token's subject")
    token.add_argument("--client", default="hermes", help="the client id (azp)")
    token.add_argument("--group", action="append", help="repeatable; default: agents")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.add_argument(
        "--state-dir", default="var/demo", help="the demo's state, used without dev settings"
    )
    token.set_defaults(fn=cmd_token)

    policy = sub.add_parser("policy", help="check, explain, diff and test policies")
    _config_here(policy)
    psub = policy.add_subparsers(dest="action", required=True)
    p = psub.add_parser("check", help="validate a policy directory (exit 1 on error)")
    p.add_argument("dir", nargs="?", help="policy directory (default: policies)")
    _config_here(p)
    p = psub.add_parser("test", help="run the *.cases.yaml decision cases")
    p.add_argument("dir", nargs="?", help="policy directory (default: policies)")
    _config_here(p)
    p = psub.add_parser("diff", help="who gains or loses what between two policy directories")
    p.add_argument("a", help="the policy directory before")
    p.add_argument("b", help="the policy directory after")
    _config_here(p)
    p = psub.add_parser("explain", help="the decision trace for given claims, tool and arguments")
    p.add_argument("--dir", help="policy directory (default: policies)")
    _config_here(p)
    p.add_argument("--claims", required=True, help='JSON, e.g. {"client_id":"hermes"}')
    p.add_argument("--tool", required=True, help="the tool to decide on")
    p.add_argument("--args", help="JSON object of arguments")
    p.add_argument("--at", help="ISO time to evaluate at (default: now)")
    psub.add_parser("schema", help="print the JSON Schema of a policy file")
    p = psub.add_parser("replay", help="re-decide recorded calls under a proposed policy")
    _replay_arguments(p)
    _config_here(p)
    policy.set_defaults(fn=cmd_policy)

    audit = sub.add_parser("audit", help="read and verify the audit log")
    asub = audit.add_subparsers(dest="action", required=True)
    a = asub.add_parser("tail", help="print the last records as JSON lines (or a table)")
    audit_tail_arguments(a)
    a = asub.add_parser("prune", help="remove records already in PostgreSQL, keeping N days")
    a.add_argument("--keep-days", type=float, default=90, help="days of records to keep")
    a.add_argument("--journal", help="journal file (default: journal_path)")
    a = asub.add_parser("verify", help="check the hash chain (exit 1 on a problem)")
    a.add_argument(
        "--journal",
        action="append",
        help="journal file, repeatable (default: journal_path and its workers' journals)",
    )
    a.add_argument("--dsn", help="verify the PostgreSQL copy at this DSN")
    a.add_argument(
        "--replica",
        action="append",
        help="a replica that must have records, repeatable (default: replica.expected)",
    )
    a.add_argument("--postgres", action="store_true", help="also verify the configured PostgreSQL")
    audit.set_defaults(fn=cmd_audit)

    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(fn=cmd_openapi)
    sub.add_parser("tools", help="list known tools").set_defaults(fn=cmd_tools)

    approvals = sub.add_parser("approvals", help="list, show, approve or deny proposals")
    approvals_command.add_arguments(approvals)
    approvals.set_defaults(fn=lambda a: approvals_command.run(a, lambda: _settings(a)))
    fronted = sub.add_parser("mcp-upstream", help="pin the tools of a fronted MCP server")
    fsub = fronted.add_subparsers(dest="action", required=True)
    for action, text in (
        ("diff", "what differs between the server's tools and its pins (exit 1 if anything)"),
        ("accept", "pin the server's tools as listed now (writes SERVER.pins.json)"),
    ):
        f = fsub.add_parser(action, help=text)
        f.add_argument("server", help="the server's name under capabilities.mcp_upstream.servers")
        f.add_argument("--dir", help="where the pins live (default: the policy directory)")
        _config_here(f)
    fronted.set_defaults(fn=cmd_mcp_upstream)

    doctor = sub.add_parser("doctor", help="check config, secrets, identity and upstreams")
    doctor_command.add_arguments(doctor)
    doctor.set_defaults(fn=lambda args: _show(doctor_command.run(args)))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.fn(args)
    except ConfigError as exc:
        print(f"labgate: configuration error: {exc.detail}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(f"labgate: policy error: {exc}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"labgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
