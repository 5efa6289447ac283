"""The ``labgate policy`` commands: check, explain, diff, test, and the editor schema.

Each command prints to ``out`` (stdout by default) and returns the process exit code:
0 on success, 1 on a load error, a failing case or bad input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic.json_schema import models_json_schema

from gateway.capability import Capability
from gateway.errors import PolicyError
from gateway.policy.cases import principal_from_claims, run_case_file
from gateway.policy.diff import diff_sets
from gateway.policy.evaluate import CallRequest, capability_for_tool, evaluate
from gateway.policy.loader import PolicyLoadError, load_policy_dir
from gateway.policy.model import CapabilityPolicy, GlobalPolicy
from gateway.policy.policyset import PolicySet

__all__ = [
    "SCOPE_NOTE",
    "check",
    "diff",
    "explain",
    "json_schema",
    "test",
    "unexercised",
    "write_json_schema",
]

#: Scope globs select upstream objects, which only the live upstream knows.
SCOPE_NOTE = (
    "scope globs are matched against the live upstream; "
    "`labgate doctor` reports one that matches nothing (glob-empty)"
)


def _print_error(exc: PolicyError, out: TextIO) -> None:
    problems = exc.problems if isinstance(exc, PolicyLoadError) else (exc,)
    for problem in problems:
        print(str(problem), file=out)


def _load(path: Path, capabilities: Mapping[str, Capability], out: TextIO) -> PolicySet | None:
    try:
        return load_policy_dir(Path(path), capabilities)
    except PolicyError as exc:
        _print_error(exc, out)
        return None


def check(path: Path, capabilities: Mapping[str, Capability], *, out: TextIO | None = None) -> int:
    """Validate a policy directory; ``file:line: message`` per problem, exit 1 on any."""
    out = out or sys.stdout
    ps = _load(path, capabilities, out)
    if ps is None:
        return 1
    on = sorted(ps.capabilities)
    off = sorted(set(capabilities) - set(on))
    rules = sum(len(p.rules) for p in ps.capabilities.values())
    print(f"ok: policy {ps.version}: {len(on)} capabilities on, {rules} rules", file=out)
    print(f"  on: {', '.join(on) or '-'}", file=out)
    print(f"  off (no policy file): {', '.join(off) or '-'}", file=out)
    if ps.global_policy.kill_switch:
        print("  kill switch is ON: every agent call is denied", file=out)
    if ps.global_policy.maintenance.enabled:
        print("  maintenance is ON: every agent call is denied", file=out)
    for name in sorted(ps.globs):
        for rule in ps.capabilities[name].rules:
            written = ps.globs[name].get(rule.id)
            if written is not None:
                tools = ", ".join(rule.tools or [])
                print(f"  {name}/{rule.id}: tools {', '.join(written)} = {tools}", file=out)
    if any(r.scope for p in ps.capabilities.values() for r in p.rules):
        print(f"  note: {SCOPE_NOTE}", file=out)
    return 0


def explain(
    path: Path,
    capabilities: Mapping[str, Capability],
    claims: dict[str, Any],
    tool: str,
    args: dict[str, Any] | None,
    now: datetime,
    *,
    out: TextIO | None = None,
) -> int:
    """Print the decision trace of one request: each rule considered and the outcome."""
    out = out or sys.stdout
    ps = _load(path, capabilities, out)
    if ps is None:
        return 1
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    principal = principal_from_claims(claims)
    capability = capability_for_tool(tool, capabilities)
    req = CallRequest(principal, capability, tool, args, now)
    decision = evaluate(req, ps, explain=True)
    print(f"policy {ps.version}", file=out)
    print(
        f"request: {capability}/{tool} sub={principal.sub} client={principal.client_id} "
        f"user={principal.username} groups={','.join(principal.groups) or '-'} "
        f"at={now.isoformat()} args={'(tool list)' if args is None else json.dumps(args)}",
        file=out,
    )
    for line in decision.trace:
        print(f"  {line}", file=out)
    print(f"allowed: {'yes' if decision.allowed else 'no'}", file=out)
    print(f"reasons: {', '.join(decision.reasons)}", file=out)
    print(f"rule: {decision.rule_id or '-'}", file=out)
    if not decision.allowed:
        print(f"message to the agent: {decision.message}", file=out)
    ob = decision.obligations
    if ob is not None:
        scope = ob.scope.model_dump(mode="json") if ob.scope is not None else None
        result = ob.result.model_dump(mode="json", exclude_none=True) if ob.result else None
        limits = ob.limits.model_dump(mode="json", exclude_none=True) if ob.limits else None
        print(f"obligations: scope={json.dumps(scope)} result={json.dumps(result)}", file=out)
        print(
            f"  limits={json.dumps(limits)} cache_ttl={ob.cache_ttl} redact={list(ob.redact)}",
            file=out,
        )
    return 0


def diff(
    path_a: Path, path_b: Path, capabilities: Mapping[str, Capability], *, out: TextIO | None = None
) -> int:
    """Print what changes from policy directory A to B; exit 1 when either fails to load."""
    out = out or sys.stdout
    a = _load(path_a, capabilities, out)
    b = _load(path_b, capabilities, out)
    if a is None or b is None:
        return 1
    lines = diff_sets(a, b)
    print(f"policy {a.version} -> {b.version}", file=out)
    for line in lines:
        print(f"  {line}", file=out)
    if not lines:
        print("  no differences", file=out)
    return 0


def test(
    path: Path,
    capabilities: Mapping[str, Capability],
    cases_glob: str = "*.cases.yaml",
    *,
    now: datetime | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the decision cases beside the policies; exit 1 on any failure or none found."""
    out = out or sys.stdout
    ps = _load(path, capabilities, out)
    if ps is None:
        return 1
    files = sorted(Path(path).glob(cases_glob))
    if not files:
        print(f"no case files matching {cases_glob} in {path}", file=out)
        return 1
    passed = failed = 0
    decided: set[tuple[str, str | None]] = set()
    for file in files:
        try:
            results = run_case_file(file, ps, capabilities, now or datetime.now(UTC))
        except PolicyError as exc:
            print(str(exc), file=out)
            failed += 1
            continue
        except OSError as exc:
            print(f"{file}: cannot read: {exc.strerror}", file=out)
            failed += 1
            continue
        for r in results:
            decided |= {(r.capability, r.decision.rule_id), ("", r.decision.gate_rule_id)}
            if r.ok:
                passed += 1
                continue
            failed += 1
            print(f"{r.file}:{r.line}: FAIL {r.note}: {'; '.join(r.problems)}", file=out)
    idle = unexercised(ps, decided)
    if idle:
        print(f"rules no case exercises ({len(idle)}): {', '.join(idle)}", file=out)
    print(f"{passed} passed, {failed} failed (policy {ps.version})", file=out)
    return 1 if failed else 0


def unexercised(ps: PolicySet, decided: set[tuple[str, str | None]]) -> list[str]:
    """``file/rule-id`` of every rule that decided none of the cases.

    ``decided`` holds ``(capability, rule id)`` of each case's decision. A capability rule is
    exercised when a decision names it (the allow rule that allowed, the deny rule that
    denied, the allow rule whose bound denied); a global rule when a decision named it or a
    call passed through it (global rule ids are unique across the set).
    """
    ids = {rule_id for _, rule_id in decided}
    out = [f"gateway/{r.id}" for r in ps.global_policy.rules if r.id not in ids]
    for name in sorted(ps.capabilities):
        rules = ps.capabilities[name].rules
        out += [f"{name}/{r.id}" for r in rules if (name, r.id) not in decided]
    return out


def json_schema() -> dict[str, Any]:
    """JSON Schema of a policy file (capability file or gateway.yaml) for editors."""
    refs, schema = models_json_schema(
        [(CapabilityPolicy, "validation"), (GlobalPolicy, "validation")],
        title="labgate policy file",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "labgate policy file",
        "description": "policies/<capability>.yaml or policies/gateway.yaml",
        "oneOf": [refs[(m, "validation")] for m in (CapabilityPolicy, GlobalPolicy)],
        "$defs": schema["$defs"],
    }


def write_json_schema(path: Path) -> None:
    Path(path).write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", "utf-8")
