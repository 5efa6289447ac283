"""The verified-token cache: same bytes, still unexpired, same key set, or verify again."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.auth.dev import DevIssuer
from gateway.auth.oidc import BearerAuthenticator
from gateway.errors import AuthError


class CountingVerifier:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    async def verify(self, token: str) -> dict[str, Any]:
        self.calls += 1
        result: dict[str, Any] = await self.inner.verify(token)
        return result


class Ring:
    """Stands in for RemoteJwks: only ``ring`` identity matters to the cache."""

    def __init__(self) -> None:
        self.ring: object = object()


def build(
    issuer: DevIssuer, now: list[float], jwks: Any = None
) -> tuple[BearerAuthenticator, CountingVerifier]:
    base = issuer.authenticator(clock=lambda: now[0])
    counting = CountingVerifier(base._verifier)
    auth = BearerAuthenticator(
        counting,  # type: ignore[arg-type]
        issuer=issuer.issuer,
        max_token_bytes=8192,
        jwks=jwks,
        wall_clock=lambda: now[0],
    )
    return auth, counting


async def test_second_use_skips_the_signature_check() -> None:
    now = [1_000_000.0]
    issuer = DevIssuer.generate(clock=lambda: now[0])
    auth, counting = build(issuer, now)
    headers = {"Authorization": "Bearer " + issuer.mint("a", ttl=600)}
    first = await auth.authenticate(headers, None)
    second = await auth.authenticate(headers, None)
    assert first == second and counting.calls == 1


async def test_expiry_is_checked_on_every_hit() -> None:
    now = [1_000_000.0]
    issuer = DevIssuer.generate(clock=lambda: now[0])
    auth, counting = build(issuer, now)
    headers = {"Authorization": "Bearer " + issuer.mint("a", ttl=30)}
    await auth.authenticate(headers, None)
    now[0] += 31 + 60  # past exp and past the verifier's leeway
    with pytest.raises(AuthError) as info:
        await auth.authenticate(headers, None)
    assert info.value.reason == "expired"
    assert counting.calls == 2


async def test_cache_entries_age_out_and_a_new_key_set_empties_it() -> None:
    now = [1_000_000.0]
    issuer = DevIssuer.generate(clock=lambda: now[0])
    jwks = Ring()
    auth, counting = build(issuer, now, jwks)
    headers = {"Authorization": "Bearer " + issuer.mint("a", ttl=3600)}
    await auth.authenticate(headers, None)
    now[0] += 61
    await auth.authenticate(headers, None)
    assert counting.calls == 2  # aged out after 60 s
    jwks.ring = object()  # a JWKS refetch (key rotation)
    await auth.authenticate(headers, None)
    assert counting.calls == 3


async def test_a_different_token_is_never_served_from_cache() -> None:
    now = [1_000_000.0]
    issuer = DevIssuer.generate(clock=lambda: now[0])
    other = DevIssuer.generate(clock=lambda: now[0])
    auth, counting = build(issuer, now)
    good = issuer.mint("a", ttl=600)
    await auth.authenticate({"Authorization": "Bearer " + good}, None)
    head, payload, _ = good.split(".")
    forged = f"{head}.{payload}." + other.mint("a", ttl=600).split(".")[2]
    with pytest.raises(AuthError):
        await auth.authenticate({"Authorization": "Bearer " + forged}, None)
    assert counting.calls == 2
