"""The call fast path: ``POST /v1/tools/{name}`` and ``/mcp[/capability]`` served before
FastAPI's own layers.

A tool call needs none of FastAPI's request machinery (the pipeline reads and validates the body
itself; the MCP face reads its own requests), and every layer an ASGI call passes through costs
time on each await. This middleware sits directly inside Starlette's ServerErrorMiddleware (so
an unexpected exception still becomes a plain 500) and hands those calls to the same handlers
the routes use; everything else goes on to the app. Measured effect: docs/performance.md.
"""

from __future__ import annotations

from starlette.requests import Request
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
            if scope["method"] == "POST" and path.startswith(PREFIX):
                name = path[len(PREFIX) :]
                if name and "/" not in name:
                    response = await call_tool(Request(scope, receive), name)
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
