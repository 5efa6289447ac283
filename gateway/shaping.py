"""Shaping a tool's result: the policy's projection, truncation and item caps, the hard size
ceiling, and the envelope shared by REST and MCP.

The envelope (documented in docs/envelope.md)::

    {
      "result":     {...},                 # the tool's output, shaped by the policy
      "provenance": {"capability": "documents", "tool": "documents_search",
                     "upstream": "paperless", "retrieved_at": "2026-...Z", "cached": false},
      "untrusted":  ["items[].title", "items[].snippet"],   # free text from the upstream
      "partial":    false,                 # true: items or text were cut; never complete data
      "request_id": "..."
    }
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gateway.capability import UNTRUSTED_MARK
from gateway.errors import ResultTooLarge

__all__ = [
    "HARD_CEILING",
    "Provenance",
    "Shape",
    "envelope",
    "envelope_schema",
    "shape",
    "untrusted_paths",
]

#: No result ever exceeds this many characters of JSON, whatever the policy says.
HARD_CEILING = 50_000
#: An item field holding the cursor that resumes right after that item (see ``_resume``).
RESUME_FIELD = "resume_cursor"
TRUNCATION_MARK = "…"


@dataclass(frozen=True, slots=True)
class Shape:
    fields: tuple[str, ...] | None = None
    truncate: tuple[tuple[str, int], ...] = ()
    max_items: int | None = None
    max_chars: int = HARD_CEILING


def _project(record: dict[str, Any], shape: Shape) -> tuple[dict[str, Any], bool]:
    cut = False
    if shape.fields is not None:
        record = {k: v for k, v in record.items() if k in shape.fields}
    for name, limit in shape.truncate:
        value = record.get(name)
        if isinstance(value, str) and len(value) > limit:
            record[name] = value[:limit] + TRUNCATION_MARK
            cut = True
    return record, cut


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def shape(result: dict[str, Any], rule: Shape) -> tuple[dict[str, Any], bool]:
    """Apply the policy's result obligations; return (shaped result, partial)."""
    partial = bool(result.get("partial", False))
    items = result.get("items")
    resume = _resume_cursors(items)
    if isinstance(items, list):
        if rule.max_items is not None and len(items) > rule.max_items:
            items = items[: rule.max_items]
            partial = True
        shaped_items = []
        for item in items:
            projected, cut = _project(item, rule) if isinstance(item, dict) else (item, False)
            shaped_items.append(projected)
            partial = partial or cut
        out = {**result, "items": shaped_items}
    else:
        out, cut = _project(dict(result), rule)
        partial = partial or cut
    limit = min(rule.max_chars, HARD_CEILING)
    if _size(out) > limit:
        if isinstance(out.get("items"), list) and out["items"]:
            kept: list[Any] = out["items"]
            while kept and _size(out) > limit:
                kept.pop()
                if resume is not None:  # keep the cursor honest while measuring
                    _resume(out, resume, len(kept))
            partial = True
        if _size(out) > limit:
            raise ResultTooLarge()
    if resume is not None and isinstance(out.get("items"), list):
        _resume(out, resume, len(out["items"]))
    if "partial" in out:
        out["partial"] = partial
    return out, partial


def _resume_cursors(items: Any) -> list[str] | None:
    """Each item's own resume cursor, when every item of a non-empty page carries one."""
    if not isinstance(items, list) or not items:
        return None
    found = [item.get(RESUME_FIELD) if isinstance(item, dict) else None for item in items]
    cursors = [c for c in found if isinstance(c, str)]
    return cursors if len(cursors) == len(items) else None


def _resume(out: dict[str, Any], resume: list[str], kept: int) -> None:
    """A page cut to ``kept`` items resumes right after the last one kept, never after items
    the caller did not receive. A page that cannot hold a single item is refused (an empty
    page could only skip it or repeat itself)."""
    if kept == len(resume) or "next_cursor" not in out:
        return
    if kept == 0:
        raise ResultTooLarge()
    out["next_cursor"] = resume[kept - 1]


@dataclass(frozen=True, slots=True)
class Provenance:
    capability: str
    tool: str
    upstream: str | None
    retrieved_at: str


def envelope(
    result: dict[str, Any],
    provenance: Provenance,
    cached: bool,
    untrusted: list[str],
    partial: bool,
    request_id: str,
) -> dict[str, Any]:
    """The answer an agent gets, on every face (docs/envelope.md)."""
    return {
        "result": result,
        "provenance": {
            "capability": provenance.capability,
            "tool": provenance.tool,
            "upstream": provenance.upstream,
            "retrieved_at": provenance.retrieved_at,
            "cached": cached,
        },
        "untrusted": untrusted,
        "partial": partial,
        "request_id": request_id,
    }


def untrusted_paths(model: type[BaseModel]) -> list[str]:
    """Paths (``items[].snippet``) of every field typed UntrustedText in the output model."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    found: list[str] = []

    def walk(node: dict[str, Any], path: str, depth: int) -> None:
        if depth > 8:
            return
        if "$ref" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        if node.get(UNTRUSTED_MARK):
            found.append(path)
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                walk(sub, path, depth + 1)
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]", depth + 1)
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{name}" if path else name, depth + 1)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], path + ".*", depth + 1)

    walk(schema, "", 0)
    return sorted(set(found))


def _relax(schema: dict[str, Any], record_names: Iterable[str]) -> None:
    """Record fields may be projected away by a policy: they are not required in the answer."""
    names = set(record_names)
    for name, node in schema.get("$defs", {}).items():
        if name in names:
            node.pop("required", None)


def envelope_schema(
    output: type[BaseModel], record: type[BaseModel], ref_prefix: str = "#/$defs/"
) -> dict[str, Any]:
    """JSON Schema of the envelope around ``output`` (object-rooted, self-contained)."""
    result = output.model_json_schema(ref_template=ref_prefix + "{model}")
    defs = result.pop("$defs", {})
    if record is output:
        result.pop("required", None)
    else:
        _relax({"$defs": defs}, [record.__name__])
    schema: dict[str, Any] = {
        "type": "object",
        "title": f"{output.__name__}Envelope",
        "properties": {
            "result": result,
            "provenance": {
                "type": "object",
                "properties": {
                    "capability": {"type": "string"},
                    "tool": {"type": "string"},
                    "upstream": {"type": ["string", "null"]},
                    "retrieved_at": {"type": "string", "format": "date-time"},
                    "cached": {"type": "boolean"},
                },
                "required": ["capability", "tool", "upstream", "retrieved_at", "cached"],
            },
            "untrusted": {"type": "array", "items": {"type": "string"}},
            "partial": {"type": "boolean"},
            "request_id": {"type": "string"},
        },
        "required": ["result", "provenance", "untrusted", "partial", "request_id"],
    }
    if defs:
        schema["$defs"] = defs
    return schema
