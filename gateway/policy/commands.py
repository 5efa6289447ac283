"""The ``labgate policy`` commands: check, explain, diff, test, and the editor schema.

Each command returns a :class:`~gateway.cliresult.CommandResult` (the lines to show and the
exit code: 0 on success, 1 on a load error, a failing case or bad input); gateway/cli.py
prints it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from gateway.capability import Capability
from gateway.cliresult import CommandResult
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


def _print_error(exc: PolicyError, res: CommandResult) -> None:
    problems = exc.problems if isinstance(exc, PolicyLoadError) else (exc,)
    for problem in problems:
        res.say(str(problem))


def _load(
    path: Path, capabilities: Mapping[str, Capability], res: CommandResult
) -> PolicySet | None:
    try:
        return load_policy_dir(Path(path), capabilities)
    except PolicyError as exc:
        _print_error(exc, res)
        return None


def check(path: Path, capabilities: Mapping[str, Capability]) -> CommandResult:
    """Validate a policy directory; ``file:line: message`` per problem, exit 1 on any."""
    res = CommandResult()
    ps = _load(path, capabilities, res)
    if ps is None:
        return res.end(1)
    on = sorted(ps.capabilities)
    off = sorted(set(capabilities) - set(on))
    rules = sum(len(p.rules) for p in ps.capabilities.values())
    res.say(f"ok: policy {ps.version}: {len(on)} capabilities on, {rules} rules")
    res.say(f"  on: {', '.join(on) or '-'}")
    res.say(f"  off (no policy file): {', '.join(off) or '-'}")
    if ps.global_policy.kill_switch:
        res.say("  kill switch is ON: every agent call is denied")
    if ps.global_policy.maintenance.enabled:
        res.say("  maintenance is ON: every agent call is denied")
    for name in sorted(ps.globs):
        for rule in ps.capabilities[name].rules:
            written = ps.globs[name].get(rule.id)
            if written is not None:
                tools = ", ".join(rule.tools or [])
                res.say(f"  {name}/{rule.id}: tools {', '.join(written)} = {tools}")
    if any(r.scope for p in ps.capabilities.values() for r in p.rules):
        res.say(f"  note: {SCOPE_NOTE}")
    return res.end(0)


def explain(
    path: Path,
    capabilities: Mapping[str, Capability],
    claims: dict[str, Any],
    tool: str,
    args: dict[str, Any] | None,
    now: datetime,
) -> CommandResult:
    """The decision trace of one request: each rule considered and the outcome."""
    res = CommandResult()
    ps = _load(path, capabilities, res)
    if ps is None:
        return res.end(1)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    principal = principal_from_claims(claims)
    capability = capability_for_tool(tool, capabilities)
    req = CallRequest(principal, capability, tool, args, now)
    decision = evaluate(req, ps, explain=True)
    res.say(f"policy {ps.version}")
    res.say(
        f"request: {capability}/{tool} sub={principal.sub} client={principal.client_id} "
        f"user={principal.username} groups={','.join(principal.groups) or '-'} "
        f"at={now.isoformat()} args={'(tool list)' if args is None else json.dumps(args)}"
    )
    for line in decision.trace:
        res.say(f"  {line}")
    res.say(f"allowed: {'yes' if decision.allowed else 'no'}")
    res.say(f"reasons: {', '.join(decision.reasons)}")
    res.say(f"rule: {decision.rule_id or '-'}")
    if not decision.allowed:
        res.say(f"message to the agent: {decision.message}")
    ob = decision.obligations
    if ob is not None:
        scope = ob.scope.model_dump(mode="json") if ob.scope is not None else None
        result = ob.result.model_dump(mode="json", exclude_none=True) if ob.result else None
        limits = ob.limits.model_dump(mode="json", exclude_none=True) if ob.limits else None
        res.say(f"obligations: scope={json.dumps(scope)} result={json.dumps(result)}")
        res.say(f"  limits={json.dumps(limits)} cache_ttl={ob.cache_ttl} redact={list(ob.redact)}")
    return res.end(0)


def diff(path_a: Path, path_b: Path, capabilities: Mapping[str, Capability]) -> CommandResult:
    """What changes from policy directory A to B; exit 1 when either fails to load."""
    res = CommandResult()
    a = _load(path_a, capabilities, res)
    b = _load(path_b, capabilities, res)
    if a is None or b is None:
        return res.end(1)
    lines = diff_sets(a, b)
    res.say(f"policy {a.version} -> {b.version}")
    for line in lines:
        res.say(f"  {line}")
    if not lines:
        res.say("  no differences")
    return res.end(0)


def test(
    path: Path,
    capabilities: Mapping[str, Capability],
    cases_glob: str = "*.cases.yaml",
    *,
    now: datetime | None = None,
) -> CommandResult:
    """Run the decision cases beside the policies; exit 1 on any failure or none found."""
    res = CommandResult()
    ps = _load(path, capabilities, res)
    if ps is None:
        return res.end(1)
    files = sorted(Path(path).glob(cases_glob))
    if not files:
        res.say(f"no case files matching {cases_glob} in {path}")
        return res.end(1)
    passed = failed = 0
    decided: set[tuple[str, str | None]] = set()
    for file in files:
        try:
            results = run_case_file(file, ps, capabilities, now or datetime.now(UTC))
        except PolicyError as exc:
            res.say(str(exc))
            failed += 1
            continue
        except OSError as exc:
            res.say(f"{file}: cannot read: {exc.strerror}")
            failed += 1
            continue
        for r in results:
            decided |= {(r.capability, r.decision.rule_id), ("", r.decision.gate_rule_id)}
            if r.ok:
                passed += 1
                continue
            failed += 1
            res.say(f"{r.file}:{r.line}: FAIL {r.note}: {'; '.join(r.problems)}")
    idle = unexercised(ps, decided)
    if idle:
        res.say(f"rules no case exercises ({len(idle)}): {', '.join(idle)}")
    res.say(f"{passed} passed, {failed} failed (policy {ps.version})")
    return res.end(1 if failed else 0)


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
