"""A direct path for one well-formed 2026-07-28 ``tools/call``: parsed once, answered once.

A stateless-era ``tools/call`` is a self-contained POST: one JSON-RPC request in, one JSON
response out. The SDK's modern entry runs it through its general machinery (a Starlette request,
pydantic models of the envelope and the result, a per-request connection and runner, the result
dumped and sieved) which costs more than the call's own pipeline (docs/performance.md). This
path serves exactly the requests that machinery would serve without any choice to make, with
the SDK's own checks:

* the request must already have passed the guard (authenticated, Host/Origin/scope checked);
* ``MCP-Protocol-Version`` a modern version, ``Mcp-Method: tools/call``, JSON content type and
  Accept, a declared ``Content-Length`` within the mount's limit;
* the body one JSON-RPC request object, ``method`` ``tools/call``, an ``id`` that is a string or
  an integer, no routing header twice, the SDK's inbound ladder
  (``classify_inbound_request``: envelope ``_meta``, header/body agreement, version) and its
  params validation (``validate_client_request``) passed;
* no ``Mcp-Param-*`` header and a tool that maps no argument to one.

Anything else, including every malformed request, goes to the SDK untouched (the body read here
is handed on as it came), so errors and edge cases keep the SDK's exact answers. The result is
what the SDK would send: the same ``content``/``structuredContent``/``isError``, ``resultType``
and ``serverInfo`` stamp, serialised the same way (tests compare both paths). Client profiles
(``mcp.client_profiles``) apply only before the 2026-07-28 era, so every result here has the
default shape.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.runner import modern_error_data
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types import SERVER_INFO_META_KEY
from mcp_types import methods as _methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from gateway.api.mcp.tools import McpTools

__all__ = ["serve_direct"]


_MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)
_PARAM_PREFIX = b"mcp-param-"
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that first hands on the body already read, then the real one."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def serve_direct(
    tools: McpTools,
    stamp: Mapping[str, Any],
    limit: int,
    scope: Scope,
    receive: Receive,
    send: Send,
    sdk: ASGIApp,
) -> bool:
    """Serve ``scope`` directly when it is a plain modern ``tools/call`` (True), else through
    ``sdk`` (False)."""
    version = method = ctype = length = None
    for key, value in scope["headers"]:
        if key == b"mcp-protocol-version":
            version = value
        elif key == b"mcp-method":
            method = value
        elif key == b"content-type":
            ctype = value
        elif key == b"content-length":
            length = value
        elif key.startswith(_PARAM_PREFIX):
            await sdk(scope, receive, send)
            return False
    if (
        scope["method"] != "POST"
        or method != b"tools/call"
        or version is None
        or version.decode("latin-1") not in _MODERN
        or ctype is None
        or not ctype.lower().startswith(b"application/json")
        or length is None
        or not length.isdigit()
        or int(length) > limit
    ):
        await sdk(scope, receive, send)
        return False
    request = Request(scope, receive)
    if not check_accept_headers(request)[0]:
        await sdk(scope, receive, send)
        return False
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return False
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    call = _parse(body, request, tools)
    if call is None:
        await sdk(scope, _replay(body, receive), send)
        return False
    ident, name, arguments = call
    try:
        result = await tools.call_result(request, name, arguments)
    except Exception as exc:  # as the SDK's runner: a generic error, details in the log
        error = modern_error_data(exc)
        status = ERROR_CODE_HTTP_STATUS.get(error.code, 200)
        answer = {"jsonrpc": "2.0", "id": ident, "error": error.model_dump(exclude_none=True)}
        await _send(send, status, answer)
        return True
    result["resultType"] = "complete"
    result["_meta"] = {SERVER_INFO_META_KEY: dict(stamp)}
    await _send(send, 200, {"jsonrpc": "2.0", "id": ident, "result": result})
    return True


def _parse(
    body: bytes, request: Request, tools: McpTools
) -> tuple[str | int, str, dict[str, Any]] | None:
    """``(id, tool name, arguments)`` when the SDK would dispatch this body as is, else None."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(decoded, dict) or set(decoded) - {"jsonrpc", "id", "method", "params"}:
        return None
    ident = decoded.get("id")
    params = decoded.get("params")
    if (
        decoded.get("jsonrpc") != "2.0"
        or decoded.get("method") != "tools/call"
        or isinstance(ident, bool)
        or not isinstance(ident, str | int)
        or not isinstance(params, dict)
    ):
        return None
    name = params.get("name")
    arguments = params.get("arguments")
    if not isinstance(name, str) or not (arguments is None or isinstance(arguments, dict)):
        return None
    if not tools.maps_no_header(name):
        return None
    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
    if find_duplicated_routing_header(raw) is not None:
        return None
    verdict = classify_inbound_request(decoded, headers=dict(request.headers))
    if isinstance(verdict, InboundLadderRejection):
        return None
    try:
        _methods.validate_client_request("tools/call", verdict.protocol_version, params)
    except (ValidationError, ValueError, KeyError):
        return None
    return ident, name, arguments if arguments is not None else {}


async def _send(send: Send, status: int, answer: dict[str, Any]) -> None:
    # As the SDK writes it: compact separators, ASCII escapes.
    data = json.dumps(answer, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(data)).encode()),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
