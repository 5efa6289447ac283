"""Discovery and JWKS fetching against scripted issuers (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from gateway.auth.jwks import MAX_DOCUMENT_BYTES, RemoteJwks, jwks_egress, max_age_of
from gateway.auth.keys import KeyRing
from gateway.auth.settings import OidcSettings
from gateway.errors import AuthError, ConfigError
from tests.support.faketime import FakeTime
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
    egress = jwks_egress(settings(**overrides), transport=httpx.MockTransport(handler))
    jwks = RemoteJwks(settings(**overrides), egress)
    try:
        await jwks.start()
    finally:
        await jwks.aclose()
        await egress.aclose()
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


class Issuer:
    """A scripted issuer: discovery, then the JWKS in ``self.jwks`` with optional headers;
    ``self.gate`` (when set) holds JWKS answers back; ``self.up`` False refuses connections."""

    def __init__(self, jwks: dict[str, object] | None = None) -> None:
        self.jwks = jwks or PUBLIC_JWKS
        self.headers: dict[str, str] = {}
        self.gate: asyncio.Event | None = None
        self.up = True
        self.fetch_times: list[float] = []
        self.time: FakeTime | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("refused", request=request)
        if str(request.url) == DISCOVERY:
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": JWKS})
        self.fetch_times.append(self.time.now if self.time else 0.0)
        answer = httpx.Response(200, json=self.jwks, headers=self.headers)  # as of the request
        if self.gate is not None:
            await self.gate.wait()
        return answer


@asynccontextmanager
async def running(
    issuer: Issuer, **overrides: object
) -> AsyncIterator[tuple[RemoteJwks, FakeTime]]:
    time = FakeTime()
    issuer.time = time
    transport = httpx.MockTransport(issuer)
    egress = jwks_egress(settings(**overrides), transport=transport, clock=time.clock)
    jwks = RemoteJwks(settings(**overrides), egress, clock=time.clock, sleep=time.sleep)
    await jwks.start()
    try:
        yield jwks, time
    finally:
        await jwks.aclose()
        await egress.aclose()


def other_jwks() -> tuple[str, dict[str, object]]:
    key = new_signing_key()
    return key.kid or "", {"keys": [dict(key.as_dict(private=False))]}


async def test_unknown_kids_share_one_paced_fetch() -> None:
    issuer = Issuer()
    async with running(issuer, jwks_min_refetch_seconds=5) as (jwks, time):
        assert issuer.fetch_times == [1000.0]
        await time.advance(1)
        waiting = [asyncio.ensure_future(jwks.ring_for(f"nope-{i}")) for i in range(20)]
        await time.advance(3.9)
        assert not any(w.done() for w in waiting)  # held until the interval has passed
        assert len(issuer.fetch_times) == 1
        await time.advance(0.1)
        rings = await asyncio.gather(*waiting)
        assert all(not r.has("nope-0") for r in rings)
        assert issuer.fetch_times == [1000.0, 1005.0]  # one fetch for twenty callers
        await jwks.ring_for(KEY.kid)
        assert len(issuer.fetch_times) == 2  # a known kid never fetches


async def test_a_rotated_key_is_found_by_the_next_paced_fetch() -> None:
    issuer = Issuer()
    async with running(issuer, jwks_min_refetch_seconds=5) as (jwks, time):
        await time.advance(2)
        new_kid, issuer.jwks = other_jwks()  # rotation, no overlap
        caller = asyncio.ensure_future(jwks.ring_for(new_kid))
        await time.advance(3)
        ring = await caller
        assert ring.has(new_kid) and not ring.has(KEY.kid)
        assert issuer.fetch_times == [1000.0, 1005.0]


async def test_a_caller_arriving_during_a_fetch_waits_for_the_next_one() -> None:
    issuer = Issuer()
    async with running(issuer, jwks_min_refetch_seconds=5) as (jwks, time):
        await time.advance(5)
        issuer.gate = asyncio.Event()
        first = asyncio.ensure_future(jwks.ring_for("before-rotation"))
        await time.settle()
        assert len(issuer.fetch_times) == 2  # in flight, answering the old set
        new_kid, issuer.jwks = other_jwks()
        second = asyncio.ensure_future(jwks.ring_for(new_kid))
        issuer.gate.set()
        assert not (await first).has(new_kid)
        await time.advance(4.9)
        assert not second.done()
        await time.advance(0.1)
        assert (await second).has(new_kid)  # a fetch that started after it arrived
        assert len(issuer.fetch_times) == 3


async def test_a_removed_key_stops_being_trusted_without_any_new_kid() -> None:
    issuer = Issuer()
    async with running(issuer) as (jwks, time):  # no Cache-Control: half the ceiling (300 s)
        await jwks.ring_for(KEY.kid)
        _, issuer.jwks = other_jwks()  # the issuer drops KEY (compromised, say)
        await time.advance(299)
        assert len(issuer.fetch_times) == 1 and (await jwks.ring_for(KEY.kid)).has(KEY.kid)
        await time.advance(1)
        assert len(issuer.fetch_times) == 2  # refreshed in the background
        assert jwks.ring is not None and not jwks.ring.has(KEY.kid)


@pytest.mark.parametrize(
    ("cache_control", "refresh_after"),
    [("public, max-age=30", 30), ("max-age=100000", 300), ("no-store", 5), ("max-age=x", 5)],
)
async def test_the_issuers_max_age_is_honoured_under_the_ceiling(
    cache_control: str, refresh_after: float
) -> None:
    issuer = Issuer()
    issuer.headers = {"Cache-Control": cache_control}
    async with running(issuer, jwks_min_refetch_seconds=5) as (_, time):
        await time.advance(refresh_after - 0.5)
        assert len(issuer.fetch_times) == 1
        await time.advance(0.5)
        assert issuer.fetch_times == [1000.0, 1000.0 + refresh_after]


async def test_the_key_set_is_never_trusted_past_its_age_limit() -> None:
    issuer = Issuer()
    async with running(issuer, jwks_min_refetch_seconds=5) as (jwks, time):
        issuer.up = False  # the issuer goes away for good
        await time.advance(599)
        assert jwks.ring is not None and (await jwks.ring_for(KEY.kid)).has(KEY.kid)
        await time.advance(1)
        assert jwks.ring is None
        waiting = asyncio.ensure_future(jwks.ring_for(KEY.kid))
        await time.advance(5)
        with pytest.raises(AuthError) as caught:
            await waiting
        assert caught.value.reason == "issuer-unreachable"
        issuer.up = True  # back: the next paced retry restores it
        await time.advance(5)
        assert (await jwks.ring_for(KEY.kid)).has(KEY.kid)


async def test_failed_fetch_keeps_the_last_ring_and_is_retried_an_interval_later() -> None:
    issuer = Issuer()
    async with running(issuer, jwks_min_refetch_seconds=5) as (jwks, time):
        issuer.up = False
        await time.advance(10)
        waiting = asyncio.ensure_future(jwks.ring_for("unknown"))
        await time.advance(0)
        with pytest.raises(AuthError) as caught:
            await waiting
        assert caught.value.reason == "issuer-unreachable"
        assert (await jwks.ring_for(KEY.kid)).has(KEY.kid)  # last good ring kept
        issuer.up = True
        new_kid, issuer.jwks = other_jwks()
        waiting = asyncio.ensure_future(jwks.ring_for(new_kid))
        await time.advance(5)
        assert (await waiting).has(new_kid)


async def test_never_loaded_ring_is_unreachable() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    egress = jwks_egress(settings(), transport=httpx.MockTransport(handle))
    jwks = RemoteJwks(settings(jwks_min_refetch_seconds=1), egress)
    await jwks.start()
    try:
        with pytest.raises(AuthError) as caught:
            await jwks.ring_for("any")
    finally:
        await jwks.aclose()
        await egress.aclose()
    assert caught.value.reason == "issuer-unreachable"
    assert "slow" not in caught.value.detail


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("public", None),
        ("max-age=60", 60.0),
        ("public, Max-Age=60, must-revalidate", 60.0),
        ('max-age="60"', 60.0),
        ("max-age=-1", 0.0),
        ("max-age=1e9", 0.0),
        ("max-age=60, no-cache", 0.0),
        ("no-store", 0.0),
    ],
)
def test_max_age_of(header: str | None, seconds: float | None) -> None:
    assert max_age_of(header) == seconds


def test_jwks_document_must_be_a_set() -> None:
    with pytest.raises(ValueError):
        KeyRing.from_jwks(json.loads('{"kty": "RSA"}'))
