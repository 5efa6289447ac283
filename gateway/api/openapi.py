"""The OpenAPI document: FastAPI's, with each tool's body and envelope typed in components."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.api.export import input_schema
from gateway.api.problems import PROBLEM_SCHEMA
from gateway.capability import Tool
from gateway.errors import InsufficientScope, catalog
from gateway.shaping import envelope_schema

__all__ = ["build_openapi", "tool_statuses"]

_REF = "#/components/schemas/"
#: Refused per MCP request, never by a REST call.
_MCP_ONLY = frozenset({InsufficientScope.code})


def tool_statuses() -> dict[str, str]:
    """Every status a tool call can answer besides 200, from the failure catalog."""
    by_status: dict[int, list[str]] = {}
    for f in catalog():
        if f.code not in _MCP_ONLY:
            by_status.setdefault(f.status, []).append(f"`{f.code}`: {f.message}")
    return {str(status): " ".join(by_status[status]) for status in sorted(by_status)}


def _lift_defs(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move ``$defs`` into components and point the refs there."""
    defs = schema.pop("$defs", {})
    text_schema: dict[str, Any] = _rewrite(schema)
    for name, sub in defs.items():
        components.setdefault(name, _rewrite(sub))
    return text_schema


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.replace("#/$defs/", _REF) if k == "$ref" and isinstance(v, str) else _rewrite(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def build_openapi(app: FastAPI, tools: list[Tool[Any, Any]], version: str) -> dict[str, Any]:
    doc = get_openapi(
        title="labgate",
        version=version,
        description="The Hermes capability server: allow-listed, policy-governed, audited tools.",
        routes=app.routes,
    )
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    doc["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    problem = {"application/problem+json": {"schema": {"$ref": _REF + "Problem"}}}
    statuses = tool_statuses()
    for t in tools:
        op: dict[str, Any] = {"tags": ["tools"], "operationId": t.name}
        doc["paths"][f"/v1/tools/{t.name}"] = {"post": op}
        args_name = t.args_model.__name__
        components[args_name] = _lift_defs(input_schema(t), components)
        env_name = f"{t.name}_envelope"
        components[env_name] = _lift_defs(
            envelope_schema(t.output_model, t.record_model), components
        )
        op["summary"] = t.title
        op["description"] = t.description
        op["security"] = [{"bearer": []}]
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF + args_name}}},
        }
        op["responses"] = {
            "200": {
                "description": "The tool's result in the labgate envelope",
                "content": {"application/json": {"schema": {"$ref": _REF + env_name}}},
            },
            **{code: {"description": text, "content": problem} for code, text in statuses.items()},
        }
    listing = doc["paths"]["/v1/tools"]["get"]
    listing["security"] = [{"bearer": []}]
    for code in ("401", "422", "429", "503"):  # the auth gate (throttle, rejection, audit); format
        listing["responses"][code] = {"description": statuses[code], "content": problem}
    listing["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "properties": {
            "format": {"type": "string"},
            "tools": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["format", "tools"],
    }
    return doc
