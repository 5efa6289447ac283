"""The checks every MCP HTTP request passes before the SDK sees it.

In order: the Host header (only when ``mcp.allowed_hosts`` is configured), the Origin header
(absent is fine; present must be configured or the public URL's own origin), the bearer token
through the pipeline's authentication stage (``Pipeline.admit``: the auth gate, throttled per
client address; signature, ``iss``, ``aud``, ``azp``, expiry; every rejection audited in
aggregate, as on REST), and the scope ``mcp.required_scope``. A request that passes carries
its :class:`Principal` in the ASGI scope under :data:`PRINCIPAL_KEY` (a ``tools/call`` hands it
to the pipeline, whose authentication stage then takes it as admitted); the SDK's session
manager also gets ``scope["user"]``, so a legacy-era session only accepts requests from the
principal that opened it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from gateway.capability import Principal
from gateway.errors import AuthError, GatewayError, InsufficientScope, RateLimited

if TYPE_CHECKING:
    from gateway.api.port import GatewayPort

__all__ = ["PRINCIPAL_KEY", "check_request", "origin_of"]

log = logging.getLogger("labgate.mcp")

#: ASGI scope key holding the authenticated :class:`Principal` of the request.
PRINCIPAL_KEY = "labgate.principal"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, as browsers send it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _matches(value: str, allowed: Sequence[str]) -> bool:
    """Exact match, or ``name:*``: ``name`` followed by ``:`` and a port (digits only)."""
    value = value.lower()
    for item in allowed:
        item = item.lower()
        if value == item or (item.endswith(":*") and _is_port_of(value, item[:-1])):
            return True
    return False


def _is_port_of(value: str, prefix: str) -> bool:
    """``value`` is ``prefix`` (ending in ``:``) followed by an ASCII port number."""
    port = value[len(prefix) :]
    return value.startswith(prefix) and port.isascii() and port.isdigit() and len(port) <= 5


def _json(status: int, body: dict[str, str], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _challenge(metadata_url: str, error: str | None, scope: str | None = None) -> str:
    parts = []
    if error is not None:
        parts.append(f'error="{error}"')
    if scope is not None:
        parts.append(f'scope="{scope}"')
    parts.append(f'resource_metadata="{metadata_url}"')
    return "Bearer " + ", ".join(parts)


def _check_headers(port: GatewayPort, headers: Headers) -> Response | None:
    settings = port.settings.mcp
    if settings.allowed_hosts and not _matches(headers.get("host", ""), settings.allowed_hosts):
        log.warning("mcp request refused: Host not in mcp.allowed_hosts")
        return _json(421, {"code": "misdirected", "message": "This host name is not served."})
    origin = headers.get("origin")
    if origin is not None:
        own = origin_of(port.settings.agent_base_url())
        if origin.lower() != own and not _matches(origin, settings.allowed_origins):
            log.warning("mcp request refused: Origin not in mcp.allowed_origins")
            body = {"code": "forbidden_origin", "message": "This Origin is not allowed."}
            return _json(403, body)
    return None


def _session_user(principal: Principal) -> AuthenticatedUser:
    """The identity the SDK binds a legacy-era session to (client, issuer, subject)."""
    token = AccessToken(
        token=principal.token_id or "",
        client_id=principal.client_id or "",
        scopes=list(principal.scopes),
        subject=principal.sub,
        claims={"iss": principal.issuer} if principal.issuer else None,
    )
    return AuthenticatedUser(token)


async def check_request(port: GatewayPort, scope: Scope, metadata_url: str) -> Response | None:
    """Run every check; return the refusal to send, or ``None`` with the scope annotated."""
    headers = Headers(scope=scope)
    refused = _check_headers(port, headers)
    if refused is not None:
        return refused
    client = scope.get("client")
    client_host = client[0] if client else None
    try:
        principal = await port.pipeline.admit(headers, client_host, face="mcp")
    except AuthError as exc:
        log.info("mcp request unauthenticated: %s", exc.reason)
        error = None if exc.reason == "missing-token" else "invalid_token"
        return _json(
            exc.status,
            {"code": exc.code, "message": exc.detail},
            {"WWW-Authenticate": _challenge(metadata_url, error)},
        )
    except RateLimited as exc:
        body = {"code": exc.code, "message": exc.detail}
        return _json(exc.status, body, {"Retry-After": str(exc.retry_after)})
    except GatewayError as exc:
        return _json(exc.status, {"code": exc.code, "message": exc.detail})
    required = port.settings.mcp.required_scope
    if required and required not in principal.scopes:
        exc_scope = InsufficientScope()
        return _json(
            exc_scope.status,
            {"code": exc_scope.code, "message": exc_scope.detail},
            {"WWW-Authenticate": _challenge(metadata_url, "insufficient_scope", required)},
        )
    scope[PRINCIPAL_KEY] = principal
    scope["user"] = _session_user(principal)
    scope["auth"] = AuthCredentials(list(principal.scopes))
    return None
