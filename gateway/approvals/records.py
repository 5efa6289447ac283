"""The ``approval`` audit record of one step of a proposal, and the proposer as stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.approvals.codes import Step
from gateway.approvals.store import ProposalRow
from gateway.audit.record import AuditRecord
from gateway.capability import Principal

__all__ = ["approval_record", "from_dict", "principal_dict"]


def principal_dict(p: Principal) -> dict[str, Any]:
    return {
        "sub": p.sub,
        "client_id": p.client_id,
        "username": p.username,
        "groups": list(p.groups),
        "entitlements": list(p.entitlements),
        "token_id": p.token_id,
        "issuer": p.issuer,
        "scopes": list(p.scopes),
    }


def from_dict(d: Mapping[str, Any]) -> Principal:
    return Principal(
        sub=str(d.get("sub", "")),
        client_id=d.get("client_id"),
        username=d.get("username"),
        groups=tuple(d.get("groups") or ()),
        entitlements=tuple(d.get("entitlements") or ()),
        token_id=d.get("token_id"),
        issuer=d.get("issuer"),
        scopes=tuple(d.get("scopes") or ()),
    )


def approval_record(
    row: ProposalRow | None,
    step: Step,
    policy_version: str,
    *,
    reasons: list[str] | None = None,
    actor: str | None = None,
    via: str | None = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Linked by ``notes.proposal_id`` and the proposing call's ``request_id``."""
    notes: dict[str, Any] = {}
    if row is not None:
        notes["proposal_id"] = row.id
        notes["target"] = row.target
    for key, value in (("actor", actor), ("via", via), ("event_id", event_id)):
        if value is not None:
            notes[key] = value
    notes.update({k: v for k, v in (extra or {}).items() if v is not None})
    p = row.principal if row is not None else {}
    return AuditRecord(
        kind="approval",
        decision=str(step),
        request_id=row.request_id if row else None,
        sub=p.get("sub"),
        client_id=p.get("client_id"),
        username=p.get("username"),
        groups=list(p.get("groups") or []),
        capability=row.capability if row else None,
        tool=row.tool if row else None,
        arguments=row.args if row and step == Step.PROPOSED else None,
        rule_id=row.rule_id if row else None,
        reasons=reasons or [],
        policy_version=policy_version,
        notes=notes,
    )
