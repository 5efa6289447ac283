"""The audit record: one per tool call (allowed or denied) and one per policy reload.

The record is a flat, JSON-serialisable value. Its canonical form (sorted keys, compact
separators, UTF-8) is what the hash chain covers; see ``chain.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from gateway.ids import token_hex16

__all__ = ["AuditRecord", "Kind", "canonical_json", "new_event_id"]

Kind = Literal["call", "policy_reload", "auth_failure", "approval"]


def new_event_id() -> str:
    """128 random bits as 32 hex digits; the idempotency key in PostgreSQL."""
    return token_hex16()


#: One encoder for every record (``json.dumps`` with options builds a new one per call).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


@dataclass(slots=True)
class AuditRecord:
    kind: Kind
    event_id: str = field(default_factory=new_event_id)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))
    request_id: str | None = None
    trace_id: str | None = None
    # principal
    sub: str | None = None
    client_id: str | None = None
    username: str | None = None
    groups: list[str] = field(default_factory=list)
    token_id: str | None = None
    # call
    face: str | None = None  # "rest" | "mcp"
    capability: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None  # after the policy's redaction
    #: "allow" | "deny" | "error" (allowed, then failed); "ok" | "failed" for policy reloads
    decision: str = "deny"
    rule_id: str | None = None
    reasons: list[str] = field(default_factory=list)
    policy_version: str | None = None
    upstream: str | None = None
    upstream_status: int | None = None
    latency_ms: float | None = None
    result_bytes: int | None = None
    result_count: int | None = None
    error_code: str | None = None
    cached: bool = False
    notes: dict[str, Any] = field(default_factory=dict)
    #: The replica (or worker) that wrote the record: one journal, one chain, one replica.
    replica: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # A shallow copy of the lists and dicts: as independent as asdict(), far cheaper.
        out = {name: getattr(self, name) for name in _FIELDS}
        out["groups"] = list(self.groups)
        out["reasons"] = list(self.reasons)
        out["notes"] = dict(self.notes)
        if self.arguments is not None:
            out["arguments"] = dict(self.arguments)
        return out

    def to_json(self) -> str:
        return canonical_json(self.to_dict())


_FIELDS = tuple(f.name for f in fields(AuditRecord))
