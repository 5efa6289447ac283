"""The scope preview: which tools a principal's policy admits today, and what each one sees."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.capability import Capability, DoctorReport
from gateway.policy.cases import principal_from_claims
from gateway.policy.evaluate import CallRequest, allowed_tools, evaluate
from gateway.policy.policyset import PolicySet

from .report import Preview

__all__ = ["scope_preview"]


def scope_preview(
    claims: dict[str, Any],
    policies: PolicySet,
    caps: Mapping[str, Capability],
    reports: Mapping[str, DoctorReport],
    now: datetime,
) -> Preview:
    principal = principal_from_claims(claims)
    preview = Preview(principal=claims)
    by_rule: dict[tuple[str, str], list[str]] = {}
    for cap_name, tool in allowed_tools(principal, policies, now, caps):
        decision = evaluate(CallRequest(principal, cap_name, tool, None, now), policies)
        by_rule.setdefault((cap_name, decision.rule_id or "-"), []).append(tool)
    for (cap_name, rule), tools in by_rule.items():
        report = reports.get(cap_name)
        admits = report.admitted.get(rule) if report is not None else None
        preview.rows.append((", ".join(tools), rule, admits))
    return preview
