"""``create_app(settings)``: the agent-facing FastAPI app around one Runtime.

The Runtime (gateway/runtime.py) is entered and left by the app's lifespan. The faces are
wired here and reach the runtime only through :class:`~gateway.api.port.GatewayPort`. One
dispatch path serves tool calls and MCP: the :class:`~gateway.api.fastpath.ToolCallFastPath`
middleware (docs/decisions/0009); FastAPI's router serves the rest (tool list, metadata,
OpenAPI). The operator app (/healthz, /readyz, /metrics) shares the Runtime but listens on its
own port (see ``gateway.api.ops``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from gateway import __version__
from gateway.api import rest
from gateway.api.fastpath import ToolCallFastPath
from gateway.api.mcp import mcp_lifespan, mount_mcp
from gateway.api.openapi import build_openapi
from gateway.api.wellknown import add_wellknown_routes
from gateway.capability import Capability
from gateway.errors import ConfigError
from gateway.registry import Registry, load_registry, registry_for
from gateway.runtime import Runtime
from gateway.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger("labgate")


def create_app(
    settings: Settings,
    *,
    registry: Registry | None = None,
    extra: list[Capability] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The agent-facing app. ``clock`` fixes the wall clock policies see (tests)."""
    if registry is None:
        registry = load_registry(settings.extra_capabilities, include=extra) if extra else None
    registry = registry or registry_for(settings)
    runtime = Runtime(settings, registry, clock) if clock else Runtime(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await runtime.__aenter__()
        except ConfigError as exc:
            log.error("configuration error: %s", exc.detail, extra={"key": exc.key})
            await runtime.__aexit__(None, None, None)
            raise
        try:
            if settings.mcp.enabled:
                async with mcp_lifespan(app):
                    yield
            else:
                yield
        finally:
            await runtime.__aexit__(None, None, None)

    app = FastAPI(
        title="labgate",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    app.add_middleware(ToolCallFastPath)
    if settings.mcp.enabled:
        mount_mcp(app, runtime)
    app.include_router(rest.router)  # the tool list; tool calls take the dispatch middleware
    tools = [t for _, t in registry.all_tools()]
    add_wellknown_routes(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, tools, __version__)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
