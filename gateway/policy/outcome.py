"""What a decision means for one call, and how two decisions of the same call differ.

Replay (a proposed set against recorded calls) and shadow mode (a shadow set beside the live
one) compare decisions the same way. Only differences that change what the call may do count:

    widen        denied, now allowed
    narrow       allowed, now denied
    rule         allowed by another rule (other scope, bounds, result rules, limits)
    obligations  allowed by the same rule id, whose obligations (scope, result, limits,
                 cache, redaction) changed; compared only when both sides know them

Two denials never differ, whatever their reasons: the agent is refused either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.audit.record import canonical_json
from gateway.policy.evaluate import Decision, Obligations

__all__ = ["Change", "Outcome", "change", "decision_change", "obligations_key", "outcome_of"]


class Change(StrEnum):
    WIDEN = "widen"
    NARROW = "narrow"
    RULE = "rule"
    OBLIGATIONS = "obligations"


@dataclass(frozen=True, slots=True)
class Outcome:
    allowed: bool
    rule_id: str | None
    reasons: tuple[str, ...]
    #: Canonical text of the allow rule's obligations; ``None`` when unknown (recorded calls).
    terms: str | None = None


def obligations_key(ob: Obligations | None) -> str | None:
    if ob is None:
        return None
    return canonical_json(
        {
            "scope": ob.scope.model_dump(mode="json") if ob.scope is not None else None,
            "result": ob.result.model_dump(mode="json") if ob.result is not None else None,
            "limits": ob.limits.model_dump(mode="json") if ob.limits is not None else None,
            "cache_ttl": ob.cache_ttl,
            "redact": sorted(ob.redact),
        }
    )


def outcome_of(decision: Decision) -> Outcome:
    return Outcome(
        decision.allowed,
        decision.rule_id,
        tuple(str(r) for r in decision.reasons),
        obligations_key(decision.obligations) if decision.allowed else None,
    )


def change(before: Outcome, after: Outcome) -> Change | None:
    """How ``after`` differs from ``before`` for the call; ``None`` when it does not."""
    if before.allowed != after.allowed:
        return Change.WIDEN if after.allowed else Change.NARROW
    if not after.allowed:
        return None
    if before.rule_id != after.rule_id:
        return Change.RULE
    if before.terms is not None and after.terms is not None and before.terms != after.terms:
        return Change.OBLIGATIONS
    return None


def decision_change(before: Decision, after: Decision) -> Change | None:
    """:func:`change` for two decisions at hand (shadow mode): obligations compared as values,
    without building their canonical text on every call."""
    if before.allowed != after.allowed:
        return Change.WIDEN if after.allowed else Change.NARROW
    if not after.allowed:
        return None
    if before.rule_id != after.rule_id:
        return Change.RULE
    return Change.OBLIGATIONS if before.obligations != after.obligations else None
