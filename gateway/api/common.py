"""What every face needs from a request: its port, request id, client address and body."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request

from gateway.ids import token_hex16

if TYPE_CHECKING:
    from gateway.api.port import GatewayPort

__all__ = ["MAX_BODY_BYTES", "client_host", "port_of", "read_json_body", "request_id_from"]

#: The largest tool-argument body a face reads.
MAX_BODY_BYTES = 64 * 1024


def port_of(conn: HTTPConnection) -> GatewayPort:
    """The runtime serving this app, seen through the faces' port."""
    port: GatewayPort = conn.app.state.runtime
    return port


def request_id_from(conn: HTTPConnection) -> str:
    """The caller's ``X-Request-Id`` when it is a sane token, else a fresh random id."""
    given = conn.headers.get("x-request-id", "")
    if 8 <= len(given) <= 64 and given.replace("-", "").isalnum():
        return given
    return token_hex16()


def client_host(conn: HTTPConnection) -> str | None:
    """The TCP peer's address (never a forwarded-for header)."""
    return conn.client.host if conn.client else None


async def read_json_body(request: Request) -> Any:
    """The body as JSON, or ``None`` when it is empty-but-not-``{}``, too large or not JSON.

    An empty body is ``{}`` (a tool without arguments). The pipeline answers
    ``invalid_arguments`` for ``None`` after auditing the call.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
