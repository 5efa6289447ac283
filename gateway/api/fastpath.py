"""The dispatch path of tool calls and MCP: ``POST /v1/tools/{name}`` and ``/mcp[/capability]``
served before FastAPI's own layers.

A tool call needs none of FastAPI's request machinery (the pipeline reads and validates the body
itself; the MCP face reads its own requests), and every layer an ASGI call passes through costs
time on each await. This middleware sits directly inside Starlette's ServerErrorMiddleware (so
an unexpected exception still becomes a plain 500) and is the only way to those handlers: no
route serves them (their OpenAPI paths are generated from the tool definitions, see
``openapi.py``). Everything else goes on to the app. Measured effect: docs/performance.md.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.rest import call_tool

__all__ = ["ToolCallFastPath"]

PREFIX = "/v1/tools/"
MCP = "/mcp"


class ToolCallFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(PREFIX):
                name = path[len(PREFIX) :]
                if name and "/" not in name:
                    if scope["method"] == "POST":
                        response = await call_tool(Request(scope, receive), name)
                    else:  # a tool is only ever POSTed
                        response = JSONResponse(
                            {"detail": "Method Not Allowed"}, 405, headers={"Allow": "POST"}
                        )
                    await response(scope, receive, send)
                    return
            elif path == MCP or path.startswith(MCP + "/"):
                face = getattr(scope["app"].state, "mcp", None)
                capability = path[len(MCP) + 1 :] if path != MCP else None
                if face is not None and (
                    capability is None or (capability and "/" not in capability)
                ):
                    scope["path_params"] = {"capability": capability} if capability else {}
                    await face(scope, receive, send)
                    return
        await self.app(scope, receive, send)
