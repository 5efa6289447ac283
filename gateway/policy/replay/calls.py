"""An audit record read back as a call: who, what, when, with which arguments, and what the
policy decided then.

Only what the record holds is used; nothing is filled in. The record keeps the principal's
subject, client id, username and groups, but not its entitlements, and keeps arguments after
the policy's redaction (a redacted value reads ``"[redacted]"``). Whether a re-decision needs
what is missing is for :mod:`gateway.policy.replay.decide` to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.capability import Principal
from gateway.policy.outcome import Outcome
from gateway.policy.reasons import Reason

__all__ = ["REDACTED", "RecordedCall", "parse_call"]

#: What the pipeline stores in place of a redacted argument (gateway/pipeline/stages.py).
REDACTED = "[redacted]"

#: Reasons that mean the policy was never asked, or asked only about the tool: the call
#: ended before (authentication) or after (argument validation) the decision replay redoes.
_NOT_DECIDED = {str(Reason.UNAUTHENTICATED), str(Reason.INVALID_ARGUMENTS)}
#: Reasons a policy decision gives when it denies.
_POLICY_DENIALS = {
    str(r)
    for r in (
        Reason.DEFAULT_DENY,
        Reason.DENY_RULE,
        Reason.ARG_OUT_OF_RANGE,
        Reason.ARG_NOT_ALLOWED,
        Reason.OUTSIDE_HOURS,
        Reason.KILL_SWITCH,
        Reason.MAINTENANCE,
        Reason.UNKNOWN_TOOL,
        Reason.CAPABILITY_OFF,
        Reason.POLICY_ERROR,
    )
}


@dataclass(frozen=True, slots=True)
class RecordedCall:
    event_id: str
    time: datetime
    principal: Principal
    capability: str | None
    tool: str
    arguments: Mapping[str, Any] | None
    policy_version: str | None
    #: What the policy decided then (a rate-limited or failed call was allowed by it).
    outcome: Outcome
    #: Set when the call reached another mount's tool (always refused there).
    mount: str | None = None

    @property
    def redacted(self) -> frozenset[str]:
        args = self.arguments or {}
        return frozenset(k for k, v in args.items() if v == REDACTED)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _outcome(record: Mapping[str, Any]) -> Outcome | None:
    reasons = _texts(record.get("reasons"))
    rule_id = _text(record.get("rule_id"))
    decision = record.get("decision")
    if decision in ("allow", "error"):  # allowed (a failure's reason may follow "allowed")
        return Outcome(True, rule_id, reasons)
    if _NOT_DECIDED & set(reasons):
        return None
    if decision != "deny":
        return None
    if str(Reason.RATE_LIMITED) in reasons:
        # The policy allowed it (by rule_id); the rate limiter refused it afterwards.
        return Outcome(True, rule_id, reasons) if rule_id else None
    if reasons and set(reasons) <= _POLICY_DENIALS:
        return Outcome(False, rule_id, reasons)
    return None  # refused before any decision (a defect, an audit outage): nothing to redo


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def parse_call(record: Mapping[str, Any]) -> RecordedCall | None:
    """The call a ``call`` record describes, or ``None`` when no policy decision was made
    (unauthenticated, invalid arguments, an internal failure) or the record is incomplete."""
    if record.get("kind") != "call":
        return None
    outcome = _outcome(record)
    when = _time(record.get("time"))
    sub, tool = _text(record.get("sub")), _text(record.get("tool"))
    if outcome is None or when is None or sub is None or tool is None:
        return None
    args = record.get("arguments")
    notes = record.get("notes")
    mount = notes.get("mount") if isinstance(notes, dict) else None
    principal = Principal(
        sub=sub,
        client_id=_text(record.get("client_id")),
        username=_text(record.get("username")),
        groups=_texts(record.get("groups")),
        token_id=_text(record.get("token_id")),
    )
    return RecordedCall(
        event_id=str(record.get("event_id") or ""),
        time=when,
        principal=principal,
        capability=_text(record.get("capability")),
        tool=tool,
        arguments=args if isinstance(args, dict) else None,
        policy_version=_text(record.get("policy_version")),
        outcome=outcome,
        mount=mount if isinstance(mount, str) else None,
    )
