"""Mounting the MCP face: ``/mcp`` (every tool) and ``/mcp/<capability>`` (one capability).

Each mount is one lowlevel SDK server with its own Streamable HTTP session manager, so a client
that pauses a server after a streak of errors loses one capability, not all. The managers serve
both protocol eras: 2025-11-25 (``initialize``, ``Mcp-Session-Id`` sessions, JSON answers) and
2026-07-28 (one self-contained POST per request, chosen by its ``MCP-Protocol-Version``).
Sessions live in this process: several workers need sticky sessions (see docs/hermes.md).

The managers are built when the app's lifespan enters :func:`mcp_lifespan`, never at import or
mount time, so an app can be started again after it stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from gateway.api.common import MAX_BODY_BYTES
from gateway.api.mcp.direct import serve_direct
from gateway.api.mcp.guard import check_request
from gateway.api.mcp.tools import McpTools
from gateway.api.wellknown import PATH as WELLKNOWN
from gateway.api.wellknown import resource_metadata

if TYPE_CHECKING:
    from gateway.api.port import GatewayPort

__all__ = ["MAX_SESSIONS", "McpFace", "mcp_lifespan", "mount_mcp"]

log = logging.getLogger("labgate.mcp")

#: Open legacy-era sessions per mount; past it a new ``initialize`` gets 503.
MAX_SESSIONS = 1000
#: Idle legacy-era sessions are closed after this many seconds.
SESSION_IDLE_SECONDS = 15 * 60
#: The tool arguments' limit (as on REST) plus room for the JSON-RPC envelope.
MAX_REQUEST_BYTES = MAX_BODY_BYTES + 8 * 1024


def _path(capability: str | None) -> str:
    return "/mcp" if capability is None else f"/mcp/{capability}"


class McpFace:
    """The MCP mounts of one app, and the session managers they run while the app runs."""

    def __init__(self, port: GatewayPort) -> None:
        self.port = port
        self.mounts: dict[str | None, McpTools] = {None: McpTools(port, None)}
        for name in port.registry:
            self.mounts[name] = McpTools(port, name)
        self._managers: dict[str | None, StreamableHTTPSessionManager] = {}
        #: Plain 2026-07-28 ``tools/call`` requests skip the SDK's machinery (``direct.py``);
        #: off, every request goes through the SDK (the tests compare both).
        self.direct = True
        #: ``tools/call`` requests served by the direct path since start.
        self.direct_calls = 0

    def metadata_url(self, capability: str | None) -> str:
        return self.port.resource_metadata_url + _path(capability)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session managers while the context is open.

        They run in a task of their own: their task groups must be left by the task that
        entered them, which an app's lifespan does not promise (test fixtures and some servers
        enter and leave it from different tasks).
        """
        started = asyncio.Event()
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            self._hold(started, stop), name="labgate-mcp-sessions"
        )
        waiter = asyncio.get_running_loop().create_task(started.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            task.result()  # raises what kept the managers from starting
            raise RuntimeError("the MCP session managers stopped at start")
        try:
            yield
        finally:
            stop.set()
            await task

    async def _hold(self, started: asyncio.Event, stop: asyncio.Event) -> None:
        # Host and Origin are checked by the guard from configuration; the SDK still refuses a
        # POST whose Content-Type is not JSON.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        try:
            async with AsyncExitStack() as stack:
                for capability, tools in self.mounts.items():
                    manager = StreamableHTTPSessionManager(
                        tools.build_server(),
                        json_response=True,
                        stateless=False,
                        security_settings=security,
                        session_idle_timeout=SESSION_IDLE_SECONDS,
                        max_request_body_size=MAX_REQUEST_BYTES,
                        max_sessions=MAX_SESSIONS,
                    )
                    await stack.enter_async_context(manager.run())
                    self._managers[capability] = manager
                started.set()
                await stop.wait()
        finally:
            self._managers = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI endpoint of ``/mcp`` and ``/mcp/{capability}``."""
        capability: str | None = scope.get("path_params", {}).get("capability")
        if capability is not None and capability not in self.mounts:
            await JSONResponse(
                {"code": "not_found", "message": "No MCP server at this path."}, status_code=404
            )(scope, receive, send)
            return
        manager = self._managers.get(capability)
        if manager is None or not self.port.ready:
            await JSONResponse(
                {"code": "unavailable", "message": "The gateway is starting or stopping."},
                status_code=503,
            )(scope, receive, send)
            return
        if scope["method"] == "GET":
            # No server-initiated messages are ever sent: no standing SSE stream to hold open.
            await Response(status_code=405, headers={"Allow": "POST, DELETE"})(scope, receive, send)
            return
        refused = await check_request(self.port, scope, self.metadata_url(capability))
        if refused is not None:
            await refused(scope, receive, send)
            return
        if not self.direct:
            await manager.handle_request(scope, receive, send)
            return
        tools = self.mounts[capability]
        if await serve_direct(
            tools, tools.stamp, MAX_REQUEST_BYTES, scope, receive, send, manager.handle_request
        ):
            self.direct_calls += 1


def _face(app: FastAPI) -> McpFace | None:
    face = getattr(app.state, "mcp", None)
    return face if isinstance(face, McpFace) else None


def mount_mcp(app: FastAPI, port: GatewayPort) -> None:
    """Serve ``/mcp`` and ``/mcp/{capability}`` (through the dispatch middleware, which finds
    the face in ``app.state.mcp``) and add their RFC 9728 metadata routes to ``app``.

    The session managers run inside :func:`mcp_lifespan`, which the app's lifespan enters after
    the runtime has started. Does nothing when ``mcp.enabled`` is false.
    """
    if not port.settings.mcp.enabled:
        return
    face = McpFace(port)
    app.state.mcp = face  # exact paths only: clients follow no redirect to "/mcp/"

    async def metadata(request: Request) -> Response:
        capability = request.path_params["capability"]
        if capability not in port.registry:
            return JSONResponse({"code": "not_found", "message": "No such resource."}, 404)
        return JSONResponse(resource_metadata(port.settings, _path(capability)))

    app.add_api_route(
        WELLKNOWN + "/mcp/{capability}", metadata, methods=["GET"], include_in_schema=False
    )


@asynccontextmanager
async def mcp_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the MCP session managers of ``app`` (a no-op when MCP is not mounted)."""
    face = _face(app)
    if face is None:
        yield
        return
    async with face.running():
        yield
