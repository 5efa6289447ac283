"""Tool definitions for agents: MCP, OpenAI (strict) and Anthropic (strict) shapes.

Strict-mode exports need object roots, ``additionalProperties: false`` and every property
required (optional ones nullable). Keywords a strict consumer may refuse are dropped; the
gateway still enforces them, because every call is validated against the full model.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from gateway.capability import Tool
from gateway.shaping import envelope_schema

__all__ = ["Format", "export_tool", "input_schema", "strict_schema"]

Format = Literal["mcp", "openai", "anthropic"]

_KEEP = {
    "type",
    "description",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "minimum",
    "maximum",
    "format",
}


def input_schema(t: Tool[Any, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = t.args_model.model_json_schema()
    schema.setdefault("type", "object")
    schema["additionalProperties"] = False
    return schema


def _inline(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    if depth > 16:
        raise ValueError("schema nests too deeply to export")
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, defs, depth + 1)
        return {k: _inline(v, defs, depth + 1) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs, depth + 1) for v in node]
    return node


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in node:
        if not any(sub.get("type") == "null" for sub in node["anyOf"]):
            node["anyOf"] = [*node["anyOf"], {"type": "null"}]
        return node
    kind = node.get("type")
    if isinstance(kind, str):
        node["type"] = [kind, "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    elif isinstance(kind, list) and "null" not in kind:
        node["type"] = [*kind, "null"]
    return node


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k in _KEEP and k != "properties"}
    if node.get("type") == "object" or "properties" in node:
        props: dict[str, Any] = {k: _strict(v) for k, v in node.get("properties", {}).items()}
        required = set(node.get("required", []))
        for name, sub in props.items():
            if name not in required:
                props[name] = _nullable(sub)
        out["type"] = "object"
        out["properties"] = props
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    inlined = _inline(schema, schema.get("$defs", {}))
    result: dict[str, Any] = _strict(inlined)
    return result


def export_tool(t: Tool[Any, Any], fmt: Format) -> dict[str, Any]:
    description = t.description
    if fmt == "mcp":
        return {
            "name": t.name,
            "title": t.title,
            "description": description,
            "inputSchema": input_schema(t),
            "outputSchema": envelope_schema(t.output_model, t.record_model),
            "annotations": {
                "title": t.title,
                "readOnlyHint": True,
                "destructiveHint": False,
                "idempotentHint": True,
                "openWorldHint": False,
            },
        }
    params = strict_schema(input_schema(t))
    if fmt == "openai":
        return {
            "type": "function",
            "function": {
                "name": t.name,
                "description": description,
                "parameters": params,
                "strict": True,
            },
        }
    return {"name": t.name, "description": description, "input_schema": params, "strict": True}
