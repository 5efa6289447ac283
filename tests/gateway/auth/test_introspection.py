"""RFC 7662 introspection: active passes, inactive is revoked, trouble fails closed."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from gateway.auth import BearerAuthenticator, DevIssuer
from gateway.auth.introspection import BREAKER_RESET_SECONDS, Introspector, introspection_egress
from gateway.auth.jwks import StaticKeys
from gateway.auth.jwt import JwtVerifier, VerifierConfig
from gateway.auth.keys import KeyRing
from gateway.auth.settings import IntrospectionSettings
from gateway.errors import AuthError, ConfigError
from gateway.secrets import read_secret_file

ENDPOINT = "https://auth.lab.example/application/o/introspect/"
Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, tmp_path: Path, now: list[float], cache: float = 30) -> Introspector:
    secret_file = tmp_path / "introspection-secret"
    secret_file.write_text("s3cret-value\n")
    settings = IntrospectionSettings(
        endpoint=ENDPOINT,
        client_id="labgate",
        client_secret_file=secret_file,
        cache_seconds=cache,
    )
    transport = httpx.MockTransport(handler)
    egress = introspection_egress(settings, transport=transport, clock=lambda: now[0])
    secret = read_secret_file(secret_file, "introspection")
    return Introspector(settings, egress, secret, clock=lambda: now[0])


async def reason(introspector: Introspector, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        await introspector.check(token)
    return caught.value.reason


async def test_active_token_passes_and_is_cached(tmp_path: Path) -> None:
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"active": True, "client_id": "hermes"})

    now = [0.0]
    introspector = make(handle, tmp_path, now)
    await introspector.check("tok-1")
    await introspector.check("tok-1")
    assert len(requests) == 1
    sent = requests[0]
    assert sent.method == "POST"
    assert parse_qs(sent.content.decode()) == {
        "token": ["tok-1"],
        "token_type_hint": ["access_token"],
    }
    expected = base64.b64encode(b"labgate:s3cret-value").decode()
    assert sent.headers["authorization"] == f"Basic {expected}"
    now[0] = 31.0  # the cache entry has expired
    await introspector.check("tok-1")
    assert len(requests) == 2


async def test_inactive_token_is_revoked(tmp_path: Path) -> None:
    count = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return httpx.Response(200, json={"active": False})

    introspector = make(handle, tmp_path, [0.0])
    assert await reason(introspector, "tok") == "revoked"
    assert await reason(introspector, "tok") == "revoked"
    assert count == 1  # the negative answer is cached too


@pytest.mark.parametrize("answer", [{"active": "true"}, {"active": 1}, {}, {"active": None}])
async def test_only_boolean_true_is_active(tmp_path: Path, answer: dict[str, object]) -> None:
    introspector = make(lambda r: httpx.Response(200, json=answer), tmp_path, [0.0])
    assert await reason(introspector, "tok") == "revoked"


@pytest.mark.parametrize(
    "handler",
    [
        lambda r: httpx.Response(500, text="Internal Server Error: db down at host x"),
        lambda r: httpx.Response(401, json={"error": "invalid_client"}),
        lambda r: httpx.Response(302, headers={"location": "https://evil.example/"}),
        lambda r: httpx.Response(200, text="<html>"),
        lambda r: httpx.Response(200, json=["active", True]),
        lambda r: httpx.Response(200, content=b'{"active": true, "x": "' + b"a" * 70000 + b'"}'),
    ],
)
async def test_trouble_fails_closed(tmp_path: Path, handler: Handler) -> None:
    introspector = make(handler, tmp_path, [0.0])
    with pytest.raises(AuthError) as caught:
        await introspector.check("tok")
    assert caught.value.reason == "introspection-unavailable"
    assert "db down" not in caught.value.detail


async def test_unreachable_fails_closed_and_is_not_cached(tmp_path: Path) -> None:
    up = [False]

    def handle(request: httpx.Request) -> httpx.Response:
        if not up[0]:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"active": True})

    introspector = make(handle, tmp_path, [0.0])
    assert await reason(introspector, "tok") == "introspection-unavailable"
    up[0] = True
    await introspector.check("tok")


def test_secret_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        read_secret_file(tmp_path / "missing", "k")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError):
        read_secret_file(empty, "k")


async def test_introspection_runs_only_after_the_jwt_is_verified(tmp_path: Path) -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(parse_qs(request.content.decode())["token"][0])
        return httpx.Response(200, json={"active": False})

    issuer = DevIssuer.generate()
    verifier = JwtVerifier(
        VerifierConfig(issuer=issuer.issuer, audience=[issuer.audience], algorithms=["ES256"]),
        StaticKeys(KeyRing.from_jwks(issuer.jwks())),
    )
    auth = BearerAuthenticator(
        verifier,
        issuer=issuer.issuer,
        max_token_bytes=8192,
        introspector=make(handle, tmp_path, [0.0]),
    )
    with pytest.raises(AuthError) as caught:
        await auth.authenticate({"authorization": "Bearer a.b.c"}, None)
    assert caught.value.reason == "malformed-token"
    assert asked == []
    token = issuer.mint("revoked-user")
    with pytest.raises(AuthError) as caught:
        await auth.authenticate({"authorization": f"Bearer {token}"}, None)
    assert caught.value.reason == "revoked"
    assert asked == [token]


async def test_an_endpoint_that_keeps_failing_is_not_waited_for(tmp_path: Path) -> None:
    """The introspection endpoint is an upstream: after 5 failures in a row the breaker
    refuses at once (still fail closed), and lets one probe through after its reset."""
    reached: list[httpx.Request] = []
    up = [False]

    def handle(request: httpx.Request) -> httpx.Response:
        reached.append(request)
        if not up[0]:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"active": True})

    now = [0.0]
    introspector = make(handle, tmp_path, now)
    for i in range(5):
        assert await reason(introspector, f"tok-{i}") == "introspection-unavailable"
    assert len(reached) == 5
    up[0] = True
    assert await reason(introspector, "tok-5") == "introspection-unavailable"
    assert len(reached) == 5  # refused by the breaker, the endpoint never asked
    now[0] += BREAKER_RESET_SECONDS
    await introspector.check("tok-6")  # the probe goes through and closes the breaker
    assert len(reached) == 6
