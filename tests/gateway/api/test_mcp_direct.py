"""The direct path for plain 2026-07-28 ``tools/call`` requests (gateway/api/mcp/direct.py):
it answers exactly what the SDK answers, and leaves every other request to the SDK.

Each request is sent twice to the same app, once with the direct path on and once with it off
(everything through the SDK), and the two answers are compared: status, content type, body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.api.test_mcp_http import MODERN, Mcp, make_mcp  # noqa: F401  (fixture)

RID = "direct-path-0001"


async def _both(app: Any, send: Callable[[], Any]) -> tuple[Any, Any, int]:
    face = app.state.mcp
    face.direct = True
    before = face.direct_calls
    direct = await send()
    served = face.direct_calls - before
    face.direct = False
    try:
        sdk = await send()
    finally:
        face.direct = True
    return direct, sdk, served


def _same(direct: Any, sdk: Any) -> dict[str, Any]:
    assert direct.status_code == sdk.status_code
    assert direct.headers.get("content-type") == sdk.headers.get("content-type")
    if sdk.headers.get("content-type", "").startswith("application/json"):
        assert direct.json() == sdk.json()
        body: dict[str, Any] = sdk.json()
        return body
    assert direct.content == sdk.content
    return {}


PLAIN_CALLS = [
    {"name": "testcap_echo", "arguments": {"text": "a"}},
    {"name": "testcap_echo", "arguments": {"text": "é ünïcode ✓"}},
    {"name": "testcap_echo", "arguments": {"text": "a", "count": 50}},  # over the policy's max
    {"name": "testcap_echo", "arguments": {"bogus": 1}},  # invalid arguments
    {"name": "testcap_echo"},  # no arguments at all
    {"name": "testcap_fail", "arguments": {"kind": "notfound"}},  # the tool fails
    {"name": "no_such_tool", "arguments": {}},
]


@pytest.mark.parametrize("params", PLAIN_CALLS)
@pytest.mark.parametrize("rid", [7, "call-7"])
async def test_plain_calls_are_served_directly_with_the_sdks_answer(
    make_mcp: Callable[..., Any],  # noqa: F811
    params: dict[str, Any],
    rid: Any,
) -> None:
    async with make_mcp() as (m, app):
        token = m.token()

        async def send() -> Any:
            return await m.modern(
                "tools/call", params, token=token, rid=rid, **{"X-Request-Id": RID}
            )

        direct, sdk, served = await _both(app, send)
        body = _same(direct, sdk)
        assert served == 1
        assert body["id"] == rid and "result" in body
        result = body["result"]
        if not result["isError"]:
            assert result["structuredContent"]["request_id"] == RID
            assert json.loads(result["content"][0]["text"]) == result["structuredContent"]


async def test_a_capability_mount_is_served_directly_too(
    make_mcp: Callable[..., Any],  # noqa: F811
) -> None:
    async with make_mcp() as (m, app):
        token = m.token()
        for name in ("testcap_echo", "othercap_ping"):  # the second is not this mount's

            async def send(name: str = name) -> Any:
                params = {"name": name, "arguments": {"text": "a"} if "echo" in name else {}}
                return await m.modern(
                    "tools/call",
                    params,
                    token=token,
                    path="/mcp/testcap",
                    rid=3,
                    **{"X-Request-Id": RID},
                )

            direct, sdk, served = await _both(app, send)
            _same(direct, sdk)
            assert served == 1


def _modern_body(params: dict[str, Any], **changes: Any) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {**params, "_meta": meta}}
    body.update(changes)
    return body


ECHO = {"name": "testcap_echo", "arguments": {"text": "a"}}
HEADERS = {
    "MCP-Protocol-Version": MODERN,
    "Mcp-Method": "tools/call",
    "Mcp-Name": "testcap_echo",
    "X-Request-Id": RID,
}
#: Requests the direct path must leave to the SDK (each answered by it as it would anyway).
ODD = [
    ("name header disagrees", _modern_body(ECHO), {"Mcp-Name": "testcap_list"}),
    ("method header disagrees", _modern_body(ECHO), {"Mcp-Method": "tools/list"}),
    ("a method other than tools/call", _modern_body(ECHO, method="tools/list"), {}),
    ("a batch", [_modern_body(ECHO)], {}),
    ("a notification", {k: v for k, v in _modern_body(ECHO).items() if k != "id"}, {}),
    ("a boolean id", _modern_body(ECHO, id=True), {}),
    ("no _meta", {**_modern_body(ECHO), "params": ECHO}, {}),
    ("an unknown envelope key", _modern_body(ECHO, extra=1), {}),
    ("arguments not an object", _modern_body({"name": "testcap_echo", "arguments": [1]}), {}),
    ("an Mcp-Param header", _modern_body(ECHO), {"Mcp-Param-Text": "a"}),
    ("an old protocol version", _modern_body(ECHO), {"MCP-Protocol-Version": "2025-06-18"}),
    ("an unknown protocol version", _modern_body(ECHO), {"MCP-Protocol-Version": "2099-01-01"}),
]


@pytest.mark.parametrize(("what", "body", "headers"), ODD, ids=[o[0] for o in ODD])
async def test_anything_else_goes_to_the_sdk(
    make_mcp: Callable[..., Any],  # noqa: F811
    what: str,
    body: Any,
    headers: dict[str, str],
) -> None:
    async with make_mcp() as (m, app):
        token = m.token()

        async def send() -> Any:
            return await m.http.post(
                "/mcp", json=body, headers=m.headers(token, **{**HEADERS, **headers})
            )

        direct, sdk, served = await _both(app, send)
        _same(direct, sdk)
        assert served == 0, what


async def test_not_json_goes_to_the_sdk(make_mcp: Callable[..., Any]) -> None:  # noqa: F811
    async with make_mcp() as (m, app):
        token = m.token()

        async def send() -> Any:
            return await m.http.post(
                "/mcp", content=b"{not json", headers=m.headers(token, **HEADERS)
            )

        direct, sdk, served = await _both(app, send)
        _same(direct, sdk)
        assert served == 0 and sdk.status_code == 400


async def test_unauthenticated_calls_never_reach_the_direct_path(
    make_mcp: Callable[..., Any],  # noqa: F811
) -> None:
    async with make_mcp() as (m, app):

        async def send() -> Any:
            return await m.modern("tools/call", ECHO, token=None)

        direct, sdk, served = await _both(app, send)
        assert direct.status_code == sdk.status_code == 401
        assert served == 0


async def test_a_profiled_client_gets_the_same_answer_both_ways(
    make_mcp: Callable[..., Any],  # noqa: F811
) -> None:
    """Client profiles apply before the 2026-07-28 era only: both paths answer the default."""
    profiles = {"hermes": {"policy_errors": "result", "text": "summary"}}
    async with make_mcp(mcp={"client_profiles": profiles}) as (m, app):
        token = m.token()
        for params in PLAIN_CALLS[:3]:

            async def send(params: Any = params) -> Any:
                return await m.modern(
                    "tools/call", params, token=token, rid=5, **{"X-Request-Id": RID}
                )

            direct, sdk, served = await _both(app, send)
            _same(direct, sdk)
            assert served == 1
