"""The REST face: ``GET /v1/tools`` and ``POST /v1/tools/{name}``.

Bodies are read and validated by the pipeline, not by FastAPI, so an agent learns nothing about a
tool it may not call and every attempt, valid or not, is audited. The OpenAPI document still types
each tool's body and answer (see ``openapi.py``). The caller is authenticated (through the
runtime's :class:`~gateway.auth.gate.AuthGate`) before a byte of the body is read.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.api.export import FORMATS, Format, export_tool
from gateway.api.problems import problem_response
from gateway.errors import GatewayError, InvalidArguments

if TYPE_CHECKING:
    from gateway.app import Runtime

__all__ = ["MAX_BODY_BYTES", "request_id_from", "router"]

MAX_BODY_BYTES = 64 * 1024

router = APIRouter()


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def request_id_from(request: Request) -> str:
    """The caller's ``X-Request-Id`` when it is a sane token, else a fresh random id."""
    given = request.headers.get("x-request-id", "")
    if 8 <= len(given) <= 64 and given.replace("-", "").isalnum():
        return given
    return secrets.token_hex(16)


async def _read_json(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise InvalidArguments(f"The request body must be at most {MAX_BODY_BYTES} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidArguments(f"The request body must be at most {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _NotJson


class _NotJson:
    """Marker: the body was not JSON (the pipeline answers invalid_arguments after auditing)."""


#: The ``format`` query parameter: checked by the handler (after authentication), so a bad value
#: gets a problem+json answer that does not repeat it, like every other refusal.
_FORMAT_QUERY = Query("mcp", json_schema_extra={"enum": list(FORMATS)})


def _format_of(value: str) -> Format:
    if value not in FORMATS:
        raise InvalidArguments(f"format must be one of: {', '.join(FORMATS)}.")
    return value


@router.get("/v1/tools", tags=["tools"], summary="The tools this caller may use")
async def list_tools(request: Request, format: str = _FORMAT_QUERY) -> Response:
    rt = runtime_of(request)
    rid = request_id_from(request)
    try:
        principal = await rt.gate.admit(request.headers, _client_host(request), face="rest")
        fmt = _format_of(format)
    except GatewayError as exc:
        return problem_response(exc, rid, resource_metadata=rt.resource_metadata_url)
    tools = [export_tool(t, fmt) for t in rt.pipeline.allowed_tools(principal)]
    return JSONResponse({"format": fmt, "tools": tools}, headers={"X-Request-Id": rid})


def _client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


async def call_tool(request: Request, name: str) -> Response:
    rt = runtime_of(request)
    rid = request_id_from(request)
    with rt.telemetry.stage("labgate.request", face="rest"):
        return await _call_tool(rt, request, name, rid)


async def _call_tool(rt: Runtime, request: Request, name: str, rid: str) -> Response:
    async def read_body() -> Any:  # after authentication: the pipeline's second stage
        try:
            body = await _read_json(request)
        except InvalidArguments:
            return None
        return None if body is _NotJson else body

    try:
        outcome = await rt.pipeline.call(
            headers=request.headers,
            client_host=_client_host(request),
            tool_name=name,
            read_body=read_body,
            face="rest",
            request_id=rid,
        )
    except GatewayError as exc:
        return problem_response(exc, rid, resource_metadata=rt.resource_metadata_url)
    return JSONResponse(outcome.envelope, headers={"X-Request-Id": rid})


def add_tool_routes(app: FastAPI, tool_names: list[str]) -> None:
    """One typed route per tool (documented), plus a hidden catch-all that denies the rest."""

    # Plain Starlette routes: the pipeline reads and validates the body itself, so FastAPI's
    # request handling (dependency solving, body parsing) would be work done for nothing on
    # every call. gateway/api/openapi.py documents these paths.
    def bind(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return await call_tool(request, name)

        return endpoint

    for name in tool_names:
        app.router.routes.append(Route(f"/v1/tools/{name}", bind(name), methods=["POST"]))

    async def unknown(request: Request) -> Response:
        return await call_tool(request, request.path_params["name"])

    app.router.routes.append(Route("/v1/tools/{name}", unknown, methods=["POST"]))
