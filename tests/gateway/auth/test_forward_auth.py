"""Forward auth: X-authentik-* headers are believed only from the outpost's address."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from gateway.auth import AuthSettings, build_authenticator
from gateway.auth.forward_auth import ForwardAuthAuthenticator
from gateway.auth.settings import ForwardAuthSettings
from gateway.errors import AuthError

HEADERS = {
    "X-authentik-username": "hermes",
    "X-authentik-groups": "agents|readers||agents",
    "X-authentik-entitlements": "astro-read",
    "X-authentik-uid": "b0a7c9",
    "X-authentik-email": "hermes@lab.example",
}


def authenticator() -> ForwardAuthAuthenticator:
    settings = ForwardAuthSettings(
        trusted_proxies=["10.20.0.5/32", "fd00:20::/64"],
        client_id="hermes",
    )
    return ForwardAuthAuthenticator(settings)


@pytest.mark.parametrize("peer", ["10.20.0.5", "fd00:20::7", "::ffff:10.20.0.5"])
async def test_trusted_peer_gives_principal(peer: str) -> None:
    principal = await authenticator().authenticate(Headers(HEADERS), peer)
    assert principal.username == "hermes"
    assert principal.sub == "b0a7c9"
    assert principal.client_id == "hermes"
    assert principal.groups == ("agents", "readers")
    assert principal.entitlements == ("astro-read",)
    assert principal.issuer == "forward-auth"
    assert principal.token_id is None


@pytest.mark.parametrize(
    "peer", ["10.20.0.6", "192.168.1.10", "127.0.0.1", "fd00:21::1", None, "", "not-an-ip"]
)
async def test_untrusted_peer_is_refused_even_with_headers(peer: str | None) -> None:
    with pytest.raises(AuthError) as caught:
        await authenticator().authenticate(Headers(HEADERS), peer)
    assert caught.value.reason == "untrusted-proxy"


async def test_untrusted_peer_without_headers_is_refused() -> None:
    with pytest.raises(AuthError) as caught:
        await authenticator().authenticate({"authorization": "Bearer x"}, "192.168.1.10")
    assert caught.value.reason == "untrusted-proxy"


@pytest.mark.parametrize("username", [None, "", "   "])
async def test_username_is_required(username: str | None) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != "X-authentik-username"}
    if username is not None:
        headers["X-authentik-username"] = username
    with pytest.raises(AuthError) as caught:
        await authenticator().authenticate(headers, "10.20.0.5")
    assert caught.value.reason == "missing-claim"


async def test_plain_mapping_is_case_insensitive_and_sub_falls_back() -> None:
    headers = {"x-authentik-username": "alice"}
    principal = await authenticator().authenticate(headers, "10.20.0.5")
    assert principal.sub == "alice"
    assert principal.groups == ()


async def test_built_from_settings() -> None:
    settings = AuthSettings.model_validate(
        {"mode": "forward_auth", "forward_auth": {"trusted_proxies": ["10.20.0.5"]}}
    )
    auth = build_authenticator(settings)
    await auth.start()
    assert (await auth.authenticate(HEADERS, "10.20.0.5")).username == "hermes"
    await auth.aclose()


@pytest.mark.parametrize("header", ["X-authentik-username", "X-authentik-groups"])
async def test_a_repeated_identity_header_is_refused(header: str) -> None:
    """A value the client smuggled past a proxy that also set its own is believed by nobody."""
    raw = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
    raw.append((header.lower().encode(), b"admin" if "username" in header else b"admins"))
    with pytest.raises(AuthError) as info:
        await authenticator().authenticate(Headers(raw=raw), "10.20.0.5")
    assert info.value.reason == "malformed-claim"
