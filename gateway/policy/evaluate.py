"""The policy decision: a pure function of (request, policy set).

No I/O, no clock reads, no globals: the caller passes ``now``. Order of evaluation:

1. kill switch (``gateway.yaml``) -> deny ``kill-switch``;
2. maintenance -> deny ``maintenance``;
3. capability without policy / tool not in the capability -> deny ``capability-off`` /
   ``unknown-tool``, with the same message as every other denial;
4. the global rules of ``gateway.yaml``: any matching global deny rule -> deny ``deny-rule``;
   when there are global allow rules and none matches -> deny ``default-deny`` (plus
   ``outside-hours`` when one matched all but its time window);
5. any matching deny rule of the capability -> deny ``deny-rule``;
6. the first matching allow rule in file order -> its argument bounds (skipped when
   ``args`` is ``None``, as for the tool list) -> allow with its obligations, or deny
   ``arg-out-of-range`` / ``arg-not-allowed`` naming the argument and the bound;
7. otherwise deny ``default-deny`` (plus ``outside-hours`` when an allow rule matched all
   but its time window).

Any exception denies with ``policy-error``; a failing rule is never skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from gateway.errors import Denied
from gateway.policy.index import ToolRules
from gateway.policy.model import ArgBound, GlobalRule, Limits, ResultRule, Rule, When, Who
from gateway.policy.policyset import PolicySet
from gateway.policy.reasons import Reason

if TYPE_CHECKING:  # annotations only: the evaluator imports no module that does I/O
    from gateway.capability import Capability, Principal

__all__ = [
    "NOT_PERMITTED",
    "CallRequest",
    "Decision",
    "Obligations",
    "allowed_tools",
    "capability_for_tool",
    "evaluate",
    "evaluate_arguments",
]

NOT_PERMITTED = Denied.default_message
KILL_SWITCH_MESSAGE = "agent access is switched off"
MAINTENANCE_MESSAGE = "the gateway is in maintenance; retry later"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class CallRequest:
    principal: Principal
    capability: str
    tool: str
    #: The call's arguments (validated, defaults filled in); ``None`` for the tool list.
    args: Mapping[str, Any] | None
    #: Timezone-aware time of the call; a naive datetime is a policy error (deny).
    now: datetime


@dataclass(frozen=True, slots=True)
class Obligations:
    """What the matched allow rule imposes on the call."""

    rule_id: str
    scope: BaseModel | None
    result: ResultRule | None
    limits: Limits | None
    cache_ttl: float | None
    redact: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...]
    rule_id: str | None
    policy_version: str
    obligations: Obligations | None
    #: Short, safe text for the agent. Never names rules, groups or whether a tool exists.
    message: str
    #: Operator-facing explanation (``policy explain``, debug logs); never sent to the agent.
    trace: tuple[str, ...]
    #: Argument names the audit record must not store: the ``redact`` lists of every rule
    #: of the capability naming this tool (so a denied call is redacted too).
    redact: tuple[str, ...] = ()
    #: The global allow rule (``gateway.yaml``) the call passed, when there are any.
    gate_rule_id: str | None = None


class _Trace:
    def __init__(self, version: str) -> None:
        self.version = version
        self.lines: list[str] = []
        self.redact: tuple[str, ...] = ()
        self.gate: str | None = None

    def deny(
        self, reasons: tuple[Reason, ...], message: str = NOT_PERMITTED, rule_id: str | None = None
    ) -> Decision:
        self.lines.append(f"decision: deny ({', '.join(reasons)})")
        return Decision(
            False,
            reasons,
            rule_id,
            self.version,
            None,
            message,
            tuple(self.lines),
            self.redact,
            self.gate,
        )


def _who(who: Who | None, p: Principal) -> str | None:
    """``None`` when ``who`` matches, else which key did not."""
    if who is None:
        return None
    if who.principal is not None:  # the loader resolves aliases; an unresolved one never matches
        return "principal"
    checks: tuple[tuple[str, list[str] | None, tuple[str, ...]], ...] = (
        ("clients", who.clients, (p.client_id,) if p.client_id else ()),
        ("groups", who.groups, p.groups),
        ("users", who.users, (p.username,) if p.username else ()),
        ("subjects", who.subjects, (p.sub,)),
        ("entitlements", who.entitlements, p.entitlements),
    )
    for key, wanted, have in checks:
        if wanted is not None and not set(wanted) & set(have):
            return key
    return None


def _inside(when: When, now: datetime) -> bool:
    local = now.astimezone(when.tz)
    if when.days is not None and DAYS[local.weekday()] not in when.days:
        return False
    window = when.minutes()
    if window is None:
        return True
    start, end = window
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def _match(rule: Rule | GlobalRule, req: CallRequest, t: _Trace) -> tuple[bool, bool]:
    """``(matches, matched_but_for_when)`` for one rule, with a trace line."""
    head = f"rule {rule.id} ({rule.effect})"
    if isinstance(rule, GlobalRule):
        head = f"global {head}"
    elif not rule.applies_to(req.tool):
        t.lines.append(f"{head}: tool {req.tool} not listed")
        return False, False
    missed = _who(rule.who, req.principal)
    if missed is not None:
        t.lines.append(f"{head}: who.{missed} does not match")
        return False, False
    if rule.when is not None and not _inside(rule.when, req.now):
        t.lines.append(f"{head}: outside its time window")
        return False, True
    t.lines.append(f"{head}: matches")
    return True, False


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: object, b: object) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _check_number(name: str, value: Any, bound: ArgBound) -> tuple[Reason, str] | None:
    if bound.min is None and bound.max is None:
        return None
    if not _is_number(value):
        return Reason.ARG_NOT_ALLOWED, f"argument {name} must be a number"
    if bound.min is not None and value < bound.min:
        return Reason.ARG_OUT_OF_RANGE, f"argument {name} must be at least {_num(bound.min)}"
    if bound.max is not None and value > bound.max:
        return Reason.ARG_OUT_OF_RANGE, f"argument {name} must be at most {_num(bound.max)}"
    return None


def _check_length(name: str, value: Any, bound: ArgBound) -> tuple[Reason, str] | None:
    limit = bound.max_length
    if limit is None:
        return None
    if isinstance(value, str):
        if len(value) > limit:
            return Reason.ARG_OUT_OF_RANGE, f"argument {name} must be at most {limit} characters"
        return None
    if isinstance(value, list | tuple):
        if len(value) > limit:
            return Reason.ARG_OUT_OF_RANGE, f"argument {name} must have at most {limit} items"
        return None
    return Reason.ARG_NOT_ALLOWED, f"argument {name} is not allowed"


def _check_items(name: str, value: Any, bound: ArgBound) -> tuple[Reason, str] | None:
    items = list(value) if isinstance(value, list | tuple) else [value]
    if bound.one_of is not None:
        for item in items:
            if not any(_same(item, choice) for choice in bound.one_of):
                choices = ", ".join(str(c) for c in bound.one_of)
                return Reason.ARG_NOT_ALLOWED, f"argument {name} must be one of: {choices}"
    if bound.pattern is not None:
        for item in items:
            if not isinstance(item, str) or bound.pattern.fullmatch(item) is None:
                return (
                    Reason.ARG_NOT_ALLOWED,
                    f"argument {name} does not match the allowed pattern",
                )
    return None


def _check_arg(name: str, value: Any, bound: ArgBound) -> tuple[Reason, str] | None:
    """The first bound ``value`` breaks (range, length, choices, pattern), or ``None``."""
    for check in (_check_number, _check_length, _check_items):
        failure = check(name, value, bound)
        if failure is not None:
            return failure
    return None


def _allow(rule: Rule, req: CallRequest, ps: PolicySet, t: _Trace) -> Decision:
    if req.args is not None and rule.args:
        values = dict(ps.arg_defaults.get(req.capability, {}).get(req.tool, {}))
        values.update(req.args)
        for name, bound in rule.args.items():
            if values.get(name) is None:
                continue
            failure = _check_arg(name, values[name], bound)
            if failure is not None:
                t.lines.append(f"rule {rule.id}: {failure[1]}")
                return t.deny((failure[0],), failure[1], rule.id)
    scope = ps.scopes.get(req.capability, {}).get(rule.id)
    obligations = Obligations(
        rule_id=rule.id,
        scope=scope.model_copy(deep=True) if scope is not None else None,
        result=rule.result,
        limits=rule.limits,
        cache_ttl=rule.cache.ttl_seconds if rule.cache else None,
        redact=tuple(rule.redact or ()),
    )
    t.lines.append(f"decision: allow by rule {rule.id}")
    return Decision(
        True,
        (Reason.ALLOWED,),
        rule.id,
        ps.version,
        obligations,
        "",
        tuple(t.lines),
        t.redact,
        t.gate,
    )


def _global_rules(req: CallRequest, ps: PolicySet, t: _Trace) -> Decision | None:
    """A denial by the rules of ``gateway.yaml``, or ``None`` to go on to the capability's."""
    rules = ps.global_policy.rules
    for rule in rules:
        if rule.effect == "deny" and _match(rule, req, t)[0]:
            return t.deny((Reason.DENY_RULE,), rule_id=rule.id)
    gates = [r for r in rules if r.effect == "allow"]
    if not gates:
        return None
    outside = False
    for rule in gates:
        matched, only_when = _match(rule, req, t)
        if matched:
            t.gate = rule.id
            return None
        outside = outside or only_when
    t.lines.append("no global allow rule matches")
    if outside:
        return t.deny((Reason.DEFAULT_DENY, Reason.OUTSIDE_HOURS))
    return t.deny((Reason.DEFAULT_DENY,))


def _redactions(req: CallRequest, ps: PolicySet, t: _Trace, explain: bool) -> ToolRules | None:
    """Note the tool's redactions in the trace; the per-tool index entry (not when tracing)."""
    policy = ps.capabilities.get(req.capability)
    indexed = None
    if policy is not None and not explain:
        indexed = ps.index.get(req.capability, {}).get(req.tool)
    if indexed is not None:
        t.redact = indexed.redact
    elif policy is not None:
        names = {n for r in policy.rules if r.applies_to(req.tool) for n in r.redact or ()}
        t.redact = tuple(sorted(names))
    return indexed


def _gates(req: CallRequest, ps: PolicySet, t: _Trace) -> Decision | None:
    """Kill switch, maintenance, the capability on, the tool known: a denial, or ``None``."""
    g = ps.global_policy
    if g.kill_switch:
        t.lines.append("kill switch is on")
        return t.deny((Reason.KILL_SWITCH,), KILL_SWITCH_MESSAGE)
    if g.maintenance.enabled:
        t.lines.append("maintenance mode is on")
        return t.deny((Reason.MAINTENANCE,), g.maintenance.message or MAINTENANCE_MESSAGE)
    if req.now.tzinfo is None or req.now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if req.capability not in ps.capabilities:
        t.lines.append(f"capability {req.capability} has no policy: off")
        return t.deny((Reason.CAPABILITY_OFF,))
    if req.tool not in ps.tools.get(req.capability, ()):
        t.lines.append(f"tool {req.tool} is not a tool of {req.capability}")
        return t.deny((Reason.UNKNOWN_TOOL,))
    return None


def _candidates(
    rules: list[Rule], indexed: ToolRules | None, req: CallRequest, t: _Trace
) -> list[Rule]:
    """The rules that may match: all of them, or those the per-tool index names."""
    if indexed is None:
        return rules
    positions = indexed.candidates(req.principal.client_id)
    if len(positions) < indexed.total:
        t.lines.append(
            f"{indexed.total - len(positions)} rule(s) skipped: tool not listed "
            "or who.clients does not match"
        )
        return [rules[i] for i in positions]
    return rules


def _capability_rules(rules: list[Rule], req: CallRequest, ps: PolicySet, t: _Trace) -> Decision:
    """Deny wins; then the first allow rule that matches; else default deny."""
    for rule in rules:
        if rule.effect == "deny" and _match(rule, req, t)[0]:
            return t.deny((Reason.DENY_RULE,), rule_id=rule.id)
    outside = False
    for rule in rules:
        if rule.effect == "allow":
            matched, only_when = _match(rule, req, t)
            if matched:
                return _allow(rule, req, ps, t)
            outside = outside or only_when
    t.lines.append("no allow rule matches")
    if outside:
        return t.deny((Reason.DEFAULT_DENY, Reason.OUTSIDE_HOURS))
    return t.deny((Reason.DEFAULT_DENY,))


def _evaluate(req: CallRequest, ps: PolicySet, t: _Trace, explain: bool) -> Decision:
    indexed = _redactions(req, ps, t, explain)
    denial = _gates(req, ps, t) or _global_rules(req, ps, t)
    if denial is not None:
        return denial
    rules = list(ps.capabilities[req.capability].rules)
    return _capability_rules(_candidates(rules, indexed, req, t), req, ps, t)


def evaluate(req: CallRequest, policy_set: PolicySet, *, explain: bool = False) -> Decision:
    """Decide one call (or, with ``args=None``, whether a tool is listed).

    Calls look only at the rules the per-tool index says may match; ``explain=True`` walks
    and traces every rule (``policy explain``). The decision is the same either way.
    """
    t = _Trace(str(getattr(policy_set, "version", "unknown")))
    try:
        return _evaluate(req, policy_set, t, explain)
    except Exception as exc:
        t.lines.append(f"evaluation failed: {type(exc).__name__}")
        return t.deny((Reason.POLICY_ERROR,))


def evaluate_arguments(first: Decision, req: CallRequest, policy_set: PolicySet) -> Decision:
    """The decision of ``req`` (a call with its arguments) given ``first``, the decision of the
    same call without arguments under the same set, principal and time.

    Arguments play no part in which rule matches, only in the bounds of the allow rule that
    did: so an allowed ``first`` needs only that rule's bounds checked against the arguments,
    not a second walk of the rules. Anything else (a denial, no arguments, a set that changed
    since) is decided by :func:`evaluate` in full. The result equals ``evaluate(req,
    policy_set)``, trace included (property-tested).
    """
    if (
        not first.allowed
        or first.rule_id is None
        or req.args is None
        or first.policy_version != str(getattr(policy_set, "version", "unknown"))
    ):
        return evaluate(req, policy_set)
    t = _Trace(first.policy_version)
    t.lines = list(first.trace[:-1])  # the walk that found the rule; its verdict is redone
    t.redact, t.gate = first.redact, first.gate_rule_id
    try:
        rule = _rule_by_id(req, policy_set, first.rule_id)
        if rule is None:
            return evaluate(req, policy_set)
        return _allow(rule, req, policy_set, t)
    except Exception as exc:
        t.lines.append(f"evaluation failed: {type(exc).__name__}")
        return t.deny((Reason.POLICY_ERROR,))


def _rule_by_id(req: CallRequest, ps: PolicySet, rule_id: str) -> Rule | None:
    policy = ps.capabilities.get(req.capability)
    if policy is None:
        return None
    indexed = ps.index.get(req.capability, {}).get(req.tool)
    positions = (
        indexed.candidates(req.principal.client_id)
        if indexed is not None
        else range(len(policy.rules))
    )
    for i in positions:
        rule = policy.rules[i]
        if rule.id == rule_id and rule.effect == "allow":
            return rule
    return None


def allowed_tools(
    principal: Principal,
    policy_set: PolicySet,
    now: datetime,
    capabilities: Mapping[str, Capability],
) -> list[tuple[str, str]]:
    """``(capability, tool)`` pairs the principal may call, decided by :func:`evaluate`."""
    out = []
    for cap_name in sorted(capabilities):
        for tool in capabilities[cap_name].tools:
            req = CallRequest(principal, cap_name, tool.name, None, now)
            if evaluate(req, policy_set).allowed:
                out.append((cap_name, tool.name))
    return out


def capability_for_tool(tool: str, capabilities: Mapping[str, Capability]) -> str:
    """The capability that declares ``tool``; else the name's prefix (which is then off)."""
    for name, cap in capabilities.items():
        if cap.tool(tool) is not None:
            return name
    return tool.split("_", 1)[0]
