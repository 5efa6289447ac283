"""One journal row as the typed columns of ``labgate_audit``.

Used by the shipper to insert and by ``verify`` to check that no typed column was edited
(each column must equal what its hashed ``record`` says). PostgreSQL rejects NUL characters
in text and jsonb, and NaN/Infinity in jsonb; such values are replaced (NUL by U+FFFD,
non-finite numbers by their names as strings) so one hostile argument can never block
shipping. The ``record`` column keeps the exact hashed text.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from gateway.audit.chain import Row

__all__ = ["COLUMNS", "pg_values"]

#: Columns in insert order (the table's physical order, see migrations/).
COLUMNS: tuple[str, ...] = (
    "event_id",
    "journal_id",
    "seq",
    "time",
    "kind",
    "request_id",
    "trace_id",
    "sub",
    "client_id",
    "username",
    "groups",
    "token_id",
    "face",
    "capability",
    "tool",
    "arguments",
    "decision",
    "rule_id",
    "reasons",
    "policy_version",
    "upstream",
    "upstream_status",
    "latency_ms",
    "result_bytes",
    "result_count",
    "error_code",
    "cached",
    "notes",
    "record",
    "prev_hash",
    "hash",
    "replica",
)

_TEXT = (
    "kind",
    "request_id",
    "trace_id",
    "sub",
    "client_id",
    "username",
    "token_id",
    "face",
    "capability",
    "tool",
    "decision",
    "rule_id",
    "policy_version",
    "upstream",
    "error_code",
    "replica",
)
_INT = ("upstream_status", "result_bytes", "result_count")
_INT4 = 2**31


def pg_values(row: Row, journal_id: str) -> tuple[Any, ...]:
    """The values of :data:`COLUMNS` for ``row`` (jsonb as text, timestamps aware)."""
    data = json.loads(row.record)
    if not isinstance(data, dict):
        raise ValueError("record is not a JSON object")
    out: dict[str, Any] = {
        "event_id": row.event_id,
        "journal_id": journal_id,
        "seq": row.seq,
        "time": _time(data.get("time")),
        "groups": _texts(data.get("groups")),
        "reasons": _texts(data.get("reasons")),
        "arguments": _jsonb(data.get("arguments")),
        "latency_ms": _float(data.get("latency_ms")),
        "cached": bool(data.get("cached", False)),
        "notes": _jsonb(data.get("notes") or {}),
        "record": row.record,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }
    for name in _TEXT:
        out[name] = _text(data.get(name))
    for name in _INT:
        out[name] = _int(data.get(name))
    out["kind"] = out["kind"] or "unknown"
    out["decision"] = out["decision"] or "unknown"
    return tuple(out[c] for c in COLUMNS)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text.replace("\x00", "\ufffd")


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [t for t in (_text(v) for v in value) if t is not None]


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not -_INT4 <= value < _INT4:
        return None
    return value


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _jsonb(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(_clean(value), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
