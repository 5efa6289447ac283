"""Decision cases: YAML tables of requests and expected decisions, kept beside the policies.

    cases:
      - note: hermes may search
        request: {claims: {sub: u1, azp: hermes}, tool: demo_echo, args: {text: hi},
                  at: "2025-01-06T10:00:00+01:00"}
        want: {decision: allow, reasons: [allowed], rule_id: hermes-echo}

``args`` omitted means a call without arguments; ``args: null`` asks whether the tool is
listed. ``at`` omitted means the time the cases run. The same code runs the cases for
``labgate policy test`` and for the test suite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.capability import Capability, Principal
from gateway.policy.evaluate import CallRequest, Decision, capability_for_tool, evaluate
from gateway.policy.policyset import PolicySet
from gateway.policy.reasons import Reason
from gateway.policy.yamlsrc import parse_yaml, pydantic_problems

__all__ = ["Case", "CaseFile", "CaseResult", "principal_from_claims", "run_case_file"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseRequest(_Strict):
    claims: dict[str, Any] = Field(default_factory=dict)
    tool: str
    args: dict[str, Any] | None = None
    at: datetime | None = None


class CaseWant(_Strict):
    decision: Literal["allow", "deny"]
    reasons: list[Reason] | None = None
    rule_id: str | None = None
    message: str | None = None


class Case(_Strict):
    note: str
    request: CaseRequest
    want: CaseWant


class CaseFile(_Strict):
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    line: int
    note: str
    problems: tuple[str, ...]
    decision: Decision
    #: The capability the case's tool belongs to (its decision's rule id is one of its rules).
    capability: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """A principal from token-like claims (``sub``, ``azp``/``client_id``, ``groups``...)."""
    client = claims.get("client_id", claims.get("azp"))
    username = claims.get("preferred_username")
    return Principal(
        sub=str(claims.get("sub", "anonymous")),
        client_id=str(client) if client is not None else None,
        username=str(username) if username is not None else None,
        groups=_strings(claims.get("groups")),
        entitlements=_strings(claims.get("entitlements")),
        token_id=str(claims["jti"]) if "jti" in claims else None,
    )


def _check(case: Case, decision: Decision) -> list[str]:
    want = case.want
    got = "allow" if decision.allowed else "deny"
    problems = []
    if got != want.decision:
        problems.append(f"decision: want {want.decision}, got {got}")
    if want.reasons is not None and list(decision.reasons) != list(want.reasons):
        wanted = ", ".join(want.reasons)
        problems.append(f"reasons: want [{wanted}], got [{', '.join(decision.reasons)}]")
    if "rule_id" in want.model_fields_set and decision.rule_id != want.rule_id:
        problems.append(f"rule_id: want {want.rule_id}, got {decision.rule_id}")
    if want.message is not None and decision.message != want.message:
        problems.append(f"message: want {want.message!r}, got {decision.message!r}")
    return problems


def run_case_file(
    path: Path,
    policy_set: PolicySet,
    capabilities: Mapping[str, Capability],
    now: datetime | None = None,
) -> list[CaseResult]:
    """Run every case of one file; a malformed file raises :class:`PolicyError`."""
    doc = parse_yaml(Path(path).read_bytes(), str(path))
    if not isinstance(doc.data, dict):
        raise doc.error("the cases file must hold a mapping with a cases list")
    try:
        parsed = CaseFile.model_validate(doc.data)
    except ValidationError as exc:
        raise pydantic_problems(exc, doc)[0] from None
    results = []
    default_now = now or datetime.now(UTC)
    for i, case in enumerate(parsed.cases):
        req = case.request
        at = req.at or default_now
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        args = req.args if "args" in req.model_fields_set else {}
        call = CallRequest(
            principal=principal_from_claims(req.claims),
            capability=capability_for_tool(req.tool, capabilities),
            tool=req.tool,
            args=args,
            now=at,
        )
        decision = evaluate(call, policy_set)
        results.append(
            CaseResult(
                file=str(path),
                line=doc.line(("cases", i)),
                note=case.note,
                problems=tuple(_check(case, decision)),
                decision=decision,
                capability=call.capability,
            )
        )
    return results
