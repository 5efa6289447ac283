"""The REST face: ``GET /v1/tools`` and ``POST /v1/tools/{name}``.

Bodies are read and validated by the pipeline, not by FastAPI, so an agent learns nothing about a
tool it may not call and every attempt, valid or not, is audited. The OpenAPI document still types
each tool's body and answer (see ``openapi.py``). The pipeline's first stage authenticates the
caller (through the auth gate) before its second reads a byte of the body.

A tool call reaches :func:`call_tool` from the dispatch middleware (``fastpath.py``), the one
path for tool calls; this module's router holds only the tool list.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from gateway.api.common import client_host, port_of, read_json_body, request_id_from
from gateway.api.export import FORMATS, Format, export_tool
from gateway.api.problems import problem_response
from gateway.errors import GatewayError, InvalidArguments

__all__ = ["call_tool", "router"]

router = APIRouter()

#: The ``format`` query parameter: checked by the handler (after authentication), so a bad value
#: gets a problem+json answer that does not repeat it, like every other refusal.
_FORMAT_QUERY = Query("mcp", json_schema_extra={"enum": list(FORMATS)})


def _format_of(value: str) -> Format:
    if value not in FORMATS:
        raise InvalidArguments(f"format must be one of: {', '.join(FORMATS)}.")
    return value


@router.get("/v1/tools", tags=["tools"], summary="The tools this caller may use")
async def list_tools(request: Request, format: str = _FORMAT_QUERY) -> Response:
    port = port_of(request)
    rid = request_id_from(request)
    try:
        principal = await port.pipeline.admit(request.headers, client_host(request), face="rest")
        fmt = _format_of(format)
    except GatewayError as exc:
        return problem_response(exc, rid, resource_metadata=port.resource_metadata_url)
    tools = [export_tool(t, fmt) for t in port.pipeline.allowed_tools(principal)]
    return JSONResponse({"format": fmt, "tools": tools}, headers={"X-Request-Id": rid})


async def call_tool(request: Request, name: str) -> Response:
    """``POST /v1/tools/{name}``: one call through the pipeline, answered as JSON or a problem."""
    port = port_of(request)
    rid = request_id_from(request)

    async def read_body() -> object:
        return await read_json_body(request)

    with port.telemetry.stage("labgate.request", face="rest"):
        try:
            outcome = await port.pipeline.call(
                headers=request.headers,
                client_host=client_host(request),
                tool_name=name,
                read_body=read_body,
                face="rest",
                request_id=rid,
            )
        except GatewayError as exc:
            return problem_response(exc, rid, resource_metadata=port.resource_metadata_url)
    return JSONResponse(outcome.envelope, headers={"X-Request-Id": rid})
