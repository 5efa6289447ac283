"""Rejected authentication on every face, against the real OIDC provider: always a typed 401,
always audited (aggregated, so a flood cannot grow the journal without bound), throttled per
client address before any token work, and answered before the request body is read."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

import httpx
import pytest

from tests.support.forged_tokens import ForgeContext, control_token
from tests.support.gateway_app import Gateway
from tests.support.oidc import OidcProvider

MODERN = "2026-07-28"
FACES = {
    "list": ("GET", "/v1/tools", "rest"),
    "call": ("POST", "/v1/tools/testcap_echo", "rest"),
    "mcp": ("POST", "/mcp", "mcp"),
    "mcp-capability": ("POST", "/mcp/testcap", "mcp"),
}


def mcp_body() -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}


async def send(client: httpx.AsyncClient, face: str, token: str | None) -> httpx.Response:
    method, path, _ = FACES[face]
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if face.startswith("mcp"):
        headers |= {
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/list",
        }
        return await client.post(path, json=mcp_body(), headers=headers)
    if method == "GET":
        return await client.get(path, headers=headers)
    return await client.post(path, json={"text": "hi"}, headers=headers)


def signed(provider: OidcProvider, **claims: Any) -> str:
    ctx = ForgeContext(
        issuer=provider.issuer,
        audience=provider.audience,
        client_id="hermes",
        signing_key=provider.signing_key,
    )
    return control_token(ctx, **claims)


def bad_signature(provider: OidcProvider) -> str:
    head, payload, sig = signed(provider).split(".")
    return f"{head}.{payload}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"


@pytest.fixture
def oidc_gateway(
    make_gateway: Callable[..., Any], oidc_provider: OidcProvider
) -> Callable[..., Any]:
    def build(**throttle: Any) -> Any:
        auth = {
            "mode": "oidc",
            "oidc": {
                "issuer": oidc_provider.issuer,
                "audience": [oidc_provider.audience],
                "allowed_clients": ["hermes"],
            },
            "throttle": throttle or {"burst": 10_000},
        }
        return make_gateway(auth=auth)

    return build


@pytest.fixture
async def gw(oidc_gateway: Callable[..., Any]) -> AsyncIterator[Gateway]:
    async with oidc_gateway() as g:
        yield g


async def failures(gw: Gateway) -> list[dict[str, Any]]:
    return await gw.journal_records("auth_failure")


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
async def test_an_out_of_range_time_claim_is_a_401_on_every_face(
    gw: Gateway, oidc_provider: OidcProvider, face: str, claim: str
) -> None:
    r = await send(gw.client, face, signed(oidc_provider, **{claim: 10**400}))
    assert r.status_code == 401, r.text
    [record] = await failures(gw)
    assert record["reasons"] == ["unauthenticated", "malformed-claim"]


@pytest.mark.parametrize("face", FACES)
async def test_every_rejection_is_audited_on_every_face(
    gw: Gateway, oidc_provider: OidcProvider, face: str
) -> None:
    good = await asyncio.to_thread(oidc_provider.token)
    assert (await send(gw.client, face, good)).status_code == 200  # the face works at all
    r = await send(gw.client, face, bad_signature(oidc_provider))
    assert r.status_code == 401
    assert "invalid_token" in r.headers["WWW-Authenticate"]
    [record] = await failures(gw)
    assert record["kind"] == "auth_failure" and record["decision"] == "deny"
    assert record["face"] == FACES[face][2]
    assert record["reasons"] == ["unauthenticated", "bad-signature"]
    assert record["error_code"] == "unauthenticated"
    assert record["notes"] == {"client_address": "127.0.0.1", "count": 1, "window_seconds": 1.0}
    assert record["sub"] is None and record["token_id"] is None
    r = await send(gw.client, face, None)
    assert r.status_code == 401
    assert [f["reasons"][1] for f in await failures(gw)] == ["bad-signature", "missing-token"]


async def test_a_flood_of_rejections_is_counted_not_journaled_one_by_one(
    gw: Gateway, oidc_provider: OidcProvider
) -> None:
    flood = 400
    token = bad_signature(oidc_provider)
    started = time.monotonic()
    answers = await asyncio.gather(*(send(gw.client, "call", token) for _ in range(flood)))
    elapsed = time.monotonic() - started
    assert {r.status_code for r in answers} == {401}
    records = await failures(gw)
    assert sum(r["notes"]["count"] for r in records) == flood  # every rejection is counted
    windows = math.ceil(elapsed / 1.0) + 1
    assert len(records) <= 2 * windows, (len(records), elapsed)  # first + rest per window
    assert await gw.journal_records() == []


async def test_rejections_are_throttled_per_address_before_authentication(
    oidc_gateway: Callable[..., Any], oidc_provider: OidcProvider
) -> None:
    good = await asyncio.to_thread(oidc_provider.token)
    async with oidc_gateway(burst=5, per_second=0.01) as gw:
        for _ in range(20):  # authenticated calls give their token back: never throttled
            assert (await send(gw.client, "call", good)).status_code == 200
        codes = [(await send(gw.client, "call", bad_signature(oidc_provider))) for _ in range(8)]
        assert [r.status_code for r in codes] == [401] * 5 + [429] * 3
        assert int(codes[-1].headers["Retry-After"]) >= 1
        assert codes[-1].json()["code"] == "rate_limited"
        mcp = await send(gw.client, "mcp", good)  # the address is throttled on every face
        assert mcp.status_code == 429 and int(mcp.headers["Retry-After"]) >= 1
        other = httpx.ASGITransport(app=gw.app, client=("192.0.2.7", 40000))
        async with httpx.AsyncClient(transport=other, base_url="http://testserver") as client:
            assert (await send(client, "call", good)).status_code == 200
        counted: dict[str, int] = {}
        for record in await failures(gw):
            reason = record["reasons"][1]
            counted[reason] = counted.get(reason, 0) + record["notes"]["count"]
        # the throttled attempts were never judged: recorded as rate-limited, not bad-signature
        assert counted == {"bad-signature": 5, "rate-limited": 4}


@pytest.mark.parametrize("face", ["call", "mcp", "mcp-capability"])
async def test_no_body_is_read_before_authentication(
    gw: Gateway, oidc_provider: OidcProvider, face: str
) -> None:
    _, path, _ = FACES[face]
    reads = 0

    async def receive() -> MutableMapping[str, Any]:  # a body that never ends
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"[" * 65536, "more_body": True}

    sent: list[MutableMapping[str, Any]] = []

    async def send_message(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json, text/event-stream"),
        (b"transfer-encoding", b"chunked"),
        (b"authorization", f"Bearer {bad_signature(oidc_provider)}".encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await gw.app(scope, receive, send_message)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 401
    assert reads == 0
