"""Stable reason codes carried by every decision and every audit record.

The values are part of the operator interface (Grafana panels, alert rules, ``policy test``
cases): never rename one; add new codes at the end and document them in
``gateway/reference/catalog.py`` (the docs' table is generated). The reasons a failed call's
record carries come from the failure catalog (``audit_reason`` in gateway/errors.py).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason"]


class Reason(StrEnum):
    ALLOWED = "allowed"
    DEFAULT_DENY = "default-deny"
    DENY_RULE = "deny-rule"
    ARG_OUT_OF_RANGE = "arg-out-of-range"
    ARG_NOT_ALLOWED = "arg-not-allowed"
    OUTSIDE_HOURS = "outside-hours"
    KILL_SWITCH = "kill-switch"
    MAINTENANCE = "maintenance"
    UNKNOWN_TOOL = "unknown-tool"
    CAPABILITY_OFF = "capability-off"
    POLICY_ERROR = "policy-error"
    RATE_LIMITED = "rate-limited"
    INVALID_ARGUMENTS = "invalid-arguments"
    UPSTREAM_ERROR = "upstream-error"
    UPSTREAM_TIMEOUT = "upstream-timeout"
    UPSTREAM_UNAVAILABLE = "upstream-unavailable"
    UNAUTHENTICATED = "unauthenticated"
    RESULT_TOO_LARGE = "result-too-large"
    TOOL_TIMEOUT = "tool-timeout"
    NOT_FOUND = "not-found"
    INTERNAL_ERROR = "internal-error"
