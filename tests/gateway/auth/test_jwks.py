"""Discovery and JWKS fetching against scripted issuers (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from gateway.auth.jwks import MAX_DOCUMENT_BYTES, RemoteJwks
from gateway.auth.keys import KeyRing
from gateway.auth.settings import OidcSettings
from gateway.errors import AuthError, ConfigError
from tests.support.oidc import new_signing_key

ISSUER = "https://auth.lab.example/application/o/hermes/"
DISCOVERY = ISSUER + ".well-known/openid-configuration"
JWKS = ISSUER + "jwks/"
KEY = new_signing_key()
PUBLIC_JWKS = {"keys": [dict(KEY.as_dict(private=False))]}

Handler = Callable[[httpx.Request], httpx.Response]


def settings(**overrides: object) -> OidcSettings:
    return OidcSettings(issuer=ISSUER, audience=["labgate"], **overrides)


def issuer_app(discovery: dict[str, object] | None = None, jwks: object = None) -> Handler:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if str(request.url) == DISCOVERY:
            return httpx.Response(200, json=discovery or {"issuer": ISSUER, "jwks_uri": JWKS})
        if str(request.url) == JWKS:
            return httpx.Response(200, json=PUBLIC_JWKS if jwks is None else jwks)
        return httpx.Response(404)

    handle.seen = seen  # type: ignore[attr-defined]
    return handle


async def start(handler: Handler, **overrides: object) -> RemoteJwks:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    jwks = RemoteJwks(settings(**overrides), client)
    try:
        await jwks.start()
    finally:
        await client.aclose()
    return jwks


async def test_discovery_then_jwks() -> None:
    handler = issuer_app()
    jwks = await start(handler)
    assert jwks.ring is not None and jwks.ring.has(KEY.kid)
    assert handler.seen == [DISCOVERY, JWKS]  # type: ignore[attr-defined]


async def test_jwks_url_override_skips_discovery() -> None:
    handler = issuer_app()
    jwks = await start(handler, jwks_url=JWKS)
    assert jwks.ring is not None and jwks.ring.has(KEY.kid)
    assert handler.seen == [JWKS]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "named", [ISSUER.rstrip("/"), ISSUER.upper(), ISSUER + " ", "https://evil.example/"]
)
async def test_discovery_issuer_must_match_exactly(named: str) -> None:
    with pytest.raises(ConfigError):
        await start(issuer_app({"issuer": named, "jwks_uri": JWKS}))


async def test_jwks_uri_on_another_origin_is_refused() -> None:
    with pytest.raises(ConfigError):
        await start(issuer_app({"issuer": ISSUER, "jwks_uri": "https://evil.example/jwks"}))


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(302, headers={"location": JWKS}),
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, content=b"{" + b" " * (MAX_DOCUMENT_BYTES + 1) + b"}"),
    ],
)
async def test_unusable_discovery_is_unreachable(response: httpx.Response) -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return response

    jwks = await start(handle)  # not fatal at start
    assert jwks.ring is None
    assert calls == [DISCOVERY]  # a redirect is not followed


async def test_private_and_symmetric_entries_are_not_used() -> None:
    private = dict(KEY.as_dict(private=True))
    oct_key = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
    enc_key = {**dict(new_signing_key().as_dict()), "use": "enc", "kid": "enc"}
    ring = KeyRing.from_jwks({"keys": [private, oct_key, enc_key, "junk", {"kty": "RSA"}]})
    assert set(ring.by_kid) == {KEY.kid}
    assert not ring.by_kid[KEY.kid or ""].is_private


async def test_unknown_kid_refetch_is_rate_limited_and_shared() -> None:
    now = [0.0]
    fetches = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal fetches
        if str(request.url) == DISCOVERY:
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": JWKS})
        fetches += 1
        await asyncio.sleep(0.05)  # let concurrent callers pile up behind the fetch
        return httpx.Response(200, json=PUBLIC_JWKS)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        jwks = RemoteJwks(settings(jwks_min_refetch_seconds=60), client, clock=lambda: now[0])
        await jwks.start()
        assert fetches == 1
        now[0] = 59.0
        await asyncio.gather(*(jwks.ring_for("nope") for _ in range(10)))
        assert fetches == 1  # inside the floor
        now[0] = 61.0
        await asyncio.gather(*(jwks.ring_for(f"nope-{i}") for i in range(10)))
        assert fetches == 2  # one fetch for ten callers
        await jwks.ring_for(KEY.kid)
        assert fetches == 2  # a known kid never fetches


async def test_failed_fetch_keeps_the_last_ring_and_retries_soon() -> None:
    now = [0.0]
    healthy = [True]

    def handle(request: httpx.Request) -> httpx.Response:
        if not healthy[0]:
            raise httpx.ConnectError("refused", request=request)
        return issuer_app()(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        jwks = RemoteJwks(settings(jwks_min_refetch_seconds=60), client, clock=lambda: now[0])
        await jwks.start()
        healthy[0] = False
        now[0] = 100.0
        with pytest.raises(AuthError) as caught:
            await jwks.ring_for("unknown")
        assert caught.value.reason == "issuer-unreachable"
        assert jwks.ring is not None and jwks.ring.has(KEY.kid)  # last good ring kept
        ring = await jwks.ring_for(KEY.kid)
        assert ring.has(KEY.kid)
        healthy[0] = True
        now[0] = 106.0  # failures are retried after 5 s, not after the full floor
        ring = await jwks.ring_for("unknown")
        assert ring.has(KEY.kid)


async def test_never_loaded_ring_is_unreachable() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        jwks = RemoteJwks(settings(), client)
        await jwks.start()
        with pytest.raises(AuthError) as caught:
            await jwks.ring_for("any")
        assert caught.value.reason == "issuer-unreachable"
        assert "slow" not in caught.value.detail


def test_jwks_document_must_be_a_set() -> None:
    with pytest.raises(ValueError):
        KeyRing.from_jwks(json.loads('{"kty": "RSA"}'))
