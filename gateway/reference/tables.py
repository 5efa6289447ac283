"""The markdown of each generated block, by name."""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gateway import errors
from gateway.auth.reasons import AuthReason
from gateway.policy.reasons import Reason

from .catalog import AUTH_REASONS, POLICY_REASONS
from .settings import settings

__all__ = ["TABLES", "emitted_reasons", "error_codes"]

ROOT = Path(__file__).resolve().parents[2]


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_table(prefix: str = "", skip: tuple[str, ...] = ()) -> Callable[[], str]:
    def render() -> str:
        rows = [
            (f"`{s.key[len(prefix) :]}`", s.default, s.meaning.strip())
            for s in settings()
            if s.key.startswith(prefix) and not s.key.startswith(skip) and s.key != prefix[:-1]
        ]
        return _table(("key", "default", "meaning"), rows)

    return render


def emitted_reasons() -> set[str]:
    """Policy reasons the code can put in a decision or record: every ``Reason.X`` it names,
    and every failure's ``audit_reason`` in the catalog (the pipeline writes it)."""
    names = {f.audit_reason for f in errors.catalog() if f.audit_reason is not None}
    for path in (ROOT / "gateway").rglob("*.py"):
        if path.name == "reasons.py" or "reference" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "Reason" and node.attr in Reason.__members__:
                    names.add(Reason[node.attr].value)
    return names


def _policy_reasons() -> str:
    return _table(
        ("reason", "meaning"), [(f"`{r.value}`", POLICY_REASONS.get(r.value, "")) for r in Reason]
    )


def _auth_reasons() -> str:
    return _table(
        ("reason", "meaning"), [(f"`{r.value}`", AUTH_REASONS.get(r.value, "")) for r in AuthReason]
    )


def error_codes() -> dict[str, tuple[int, str]]:
    """Agent-facing code -> (HTTP status, default message), from the catalog in errors.py."""
    return {f.code: (f.status, f.message) for f in errors.catalog()}


def _errors() -> str:
    rows = [
        (
            f"`{f.code}`",
            str(f.status),
            f"`{f.audit_reason}`" if f.audit_reason else "—",
            f.hint,
        )
        for f in sorted(errors.catalog(), key=lambda f: (f.status, f.code))
    ]
    return _table(("code", "HTTP", "audit reason", "what to change"), rows)


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = ", ".join(action.option_strings) or action.dest
        if action.option_strings and action.nargs != 0:
            name += f" {action.metavar or action.dest.upper()}"
        default = action.default
        shown = "" if default in (None, False, argparse.SUPPRESS) else f"(default: `{default}`)"
        yield f"`{name}`", " ".join(t for t in (action.help or "", shown) if t)


def _commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, str, str]]:
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        for name, sub in action.choices.items():
            command = f"{prefix} {name}"
            options = "<br>".join(f"{n} {h}".strip() for n, h in _options(sub))
            yield f"`{command}`", helps.get(name, ""), options
            yield from _commands(sub, command)


def cli_table() -> str:
    from gateway.cli import build_parser

    parser = build_parser()
    rows = [
        (
            "`labgate`",
            parser.description or "",
            "<br>".join(f"{n} {h}" for n, h in _options(parser)),
        )
    ]
    rows += list(_commands(parser, "labgate"))
    return _table(("command", "what it does", "options"), rows)


def _doctor_codes() -> str:
    from gateway.doctor.codes import CODES

    return _table(("code", "meaning"), [(f"`{c}`", m) for c, m in CODES.items()])


TABLES: dict[str, Callable[[], str]] = {
    "settings": _settings_table(skip=("auth.", "upstreams.<name>.")),
    "settings-auth": _settings_table("auth."),
    "settings-upstreams": _settings_table("upstreams.<name>."),
    "policy-reasons": _policy_reasons,
    "auth-reasons": _auth_reasons,
    "error-codes": _errors,
    "cli": cli_table,
    "doctor-codes": _doctor_codes,
}
