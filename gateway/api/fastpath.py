"""The tool-call fast path: ``POST /v1/tools/{name}`` served before FastAPI's own layers.

A tool call needs none of FastAPI's request machinery (the pipeline reads and validates the body
itself), and every layer an ASGI call passes through costs time on each await. This middleware
sits directly inside Starlette's ServerErrorMiddleware (so an unexpected exception still becomes
a plain 500) and hands tool calls to the same handler the routes use; everything else goes on
to the app. Measured effect: docs/performance.md.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.rest import call_tool

__all__ = ["ToolCallFastPath"]

PREFIX = "/v1/tools/"


class ToolCallFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            name = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
            if name and "/" not in name:
                response = await call_tool(Request(scope, receive), name)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
