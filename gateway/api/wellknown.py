"""RFC 9728 protected-resource metadata, naming the issuer byte for byte."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from gateway.api.common import port_of
from gateway.api.devlogin import add_dev_login_routes

if TYPE_CHECKING:
    from gateway.settings import Settings

__all__ = ["add_wellknown_routes", "resource_metadata"]

PATH = "/.well-known/oauth-protected-resource"


def _issuer(settings: Settings) -> str | None:
    auth = settings.auth
    if auth.mode == "oidc" and auth.oidc is not None:
        return auth.oidc.issuer
    if auth.mode == "dev":
        return auth.dev.issuer
    return None


def resource_metadata(settings: Settings, resource_path: str = "") -> dict[str, Any]:
    issuer = _issuer(settings)
    meta: dict[str, Any] = {
        "resource": settings.agent_base_url() + resource_path,
        "authorization_servers": [issuer] if issuer else [],
        "bearer_methods_supported": ["header"],
        "resource_name": "labgate",
    }
    scopes = list(settings.mcp.scopes_supported)
    required = settings.mcp.required_scope
    if required and required not in scopes:
        scopes.append(required)
    if scopes:
        # What an OAuth client requests (MCP clients ask for exactly this list when the 401
        # names no scope): e.g. offline_access, for a refresh token.
        meta["scopes_supported"] = scopes
    return meta


def add_wellknown_routes(app: FastAPI) -> None:
    async def root(request: Request) -> JSONResponse:
        return JSONResponse(resource_metadata(port_of(request).settings))

    async def mcp(request: Request) -> JSONResponse:
        return JSONResponse(resource_metadata(port_of(request).settings, "/mcp"))

    app.add_api_route(PATH, root, methods=["GET"], include_in_schema=False)
    app.add_api_route(PATH + "/mcp", mcp, methods=["GET"], include_in_schema=False)
    add_dev_login_routes(app, app.state.runtime.settings)
