"""One recorded call re-decided under a proposed policy set, at its own time.

The evaluator is the gateway's own (:func:`gateway.policy.evaluate.evaluate`). A call is
*undecidable* when the decision would depend on something the record does not hold:

* the principal's entitlements (not recorded), when a rule naming the tool matches on them;
* an argument the record holds redacted, when the allow rule that decides bounds it;
* the arguments of a call refused before they were read, when the allow rule bounds any.

Otherwise the decision is exact. The recorded outcome carries no obligations, so a change of
obligations under the same rule id is found only against a *baseline* set: the set that
decided the call (same content hash as the record's ``policy_version``), when given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.capability import Capability
from gateway.policy.evaluate import CallRequest, capability_for_tool, evaluate
from gateway.policy.outcome import Change, Outcome, change, outcome_of
from gateway.policy.policyset import PolicySet
from gateway.policy.reasons import Reason
from gateway.policy.replay.calls import RecordedCall

__all__ = ["Verdict", "replay_call", "same_version"]


@dataclass(frozen=True, slots=True)
class Verdict:
    call: RecordedCall
    #: The proposed set's outcome; ``None`` when undecidable.
    after: Outcome | None
    change: Change | None
    #: Why the call is undecidable (``None`` when decided).
    undecidable: str | None = None


def same_version(recorded: str | None, version: str) -> bool:
    """Whether two policy versions name the same files (content hash; the commit may differ)."""
    return recorded is not None and recorded.split("@")[0] == version.split("@")[0]


def _capability(call: RecordedCall, capabilities: Mapping[str, Capability]) -> str:
    return call.capability or capability_for_tool(call.tool, capabilities)


def _entitlement_rules(ps: PolicySet, capability: str, tool: str) -> list[str]:
    policy = ps.capabilities.get(capability)
    if policy is None:
        return []
    return [
        r.id
        for r in policy.rules
        if r.applies_to(tool) and r.who is not None and r.who.entitlements is not None
    ]


def _bounded(ps: PolicySet, capability: str, rule_id: str | None) -> set[str]:
    policy = ps.capabilities.get(capability)
    for rule in policy.rules if policy is not None else ():
        if rule.id == rule_id:
            return set(rule.args or {})
    return set()


def _decide(call: RecordedCall, ps: PolicySet, capability: str) -> Outcome | str:
    """The outcome under ``ps``, or why it cannot be known."""
    needs = _entitlement_rules(ps, capability, call.tool)
    if needs:
        return f"entitlements are not recorded; rule {needs[0]} matches on them"
    tool_only = evaluate(CallRequest(call.principal, capability, call.tool, None, call.time), ps)
    if not tool_only.allowed:  # the same rules deny with arguments too
        return outcome_of(tool_only)
    bounded = _bounded(ps, capability, tool_only.rule_id)
    if call.arguments is None:
        if bounded:
            return (
                f"arguments were not read (refused first); rule {tool_only.rule_id} "
                f"bounds {', '.join(sorted(bounded))}"
            )
        return outcome_of(tool_only)
    hidden = sorted(bounded & call.redacted)
    if hidden:
        return f"argument {hidden[0]} is redacted; rule {tool_only.rule_id} bounds it"
    req = CallRequest(call.principal, capability, call.tool, call.arguments, call.time)
    return outcome_of(evaluate(req, ps))


def replay_call(
    call: RecordedCall,
    proposed: PolicySet,
    capabilities: Mapping[str, Capability],
    baseline: PolicySet | None = None,
) -> Verdict:
    """Re-decide ``call`` under ``proposed``; compare with what was decided then."""
    if call.mount is not None:  # another mount's tool: refused there whatever the policy
        after = Outcome(False, None, (str(Reason.UNKNOWN_TOOL),))
        return Verdict(call, after, change(call.outcome, after))
    capability = _capability(call, capabilities)
    decided = _decide(call, proposed, capability)
    if isinstance(decided, str):
        return Verdict(call, None, None, decided)
    before = call.outcome
    if baseline is not None and same_version(call.policy_version, baseline.version):
        then = _decide(call, baseline, capability)
        if isinstance(then, Outcome) and (then.allowed, then.rule_id) == (
            before.allowed,
            before.rule_id,
        ):
            before = then  # the obligations in force then, as the same set decides again
    return Verdict(call, decided, change(before, decided))
