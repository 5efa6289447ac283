"""Helpers of the audit tests: the repository root and a record with every field set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.audit.record import AuditRecord

__all__ = ["ROOT", "make_record"]

ROOT = Path(__file__).resolve().parents[3]


def make_record(i: int = 0, **fields: Any) -> AuditRecord:
    """A call record with every field set."""
    values: dict[str, Any] = {
        "kind": "call",
        "request_id": f"req-{i}",
        "trace_id": f"{i:032x}",
        "sub": "hermes-sub",
        "client_id": "hermes",
        "username": "hermes",
        "groups": ["agents", "readers"],
        "token_id": f"tok-{i}",
        "face": "rest",
        "capability": "astro",
        "tool": "astro_list_sessions",
        "arguments": {"target": "M31", "limit": i, "nested": {"ok": True}},
        "decision": "allow",
        "rule_id": "hermes-reads",
        "reasons": ["allowed", "rule-matched"],
        "policy_version": "sha256:abc@deadbeef",
        "upstream": "influxdb",
        "upstream_status": 200,
        "latency_ms": 12.5 + i,
        "result_bytes": 1024 + i,
        "result_count": 3,
        "error_code": None,
        "cached": i % 2 == 1,
        "notes": {"scope_dropped": 1},
    }
    values.update(fields)
    return AuditRecord(**values)
