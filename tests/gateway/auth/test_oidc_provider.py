"""The verifier against a real OIDC provider process laid out like Authentik."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from gateway.auth import AuthSettings, BearerAuthenticator, build_authenticator
from gateway.auth.jwks import RemoteJwks
from gateway.auth.jwt import JwtVerifier, VerifierConfig
from gateway.auth.oidc import build_oidc
from gateway.auth.settings import OidcSettings
from gateway.errors import AuthError, ConfigError
from tests.support.forged_tokens import ForgeContext, control_token, forged_tokens, sign
from tests.support.oidc import OidcProvider

SettingsFor = Callable[..., OidcSettings]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def reason_of(auth: BearerAuthenticator, headers: dict[str, str]) -> str:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(headers, "10.0.0.5")
    return caught.value.reason


@pytest.fixture
async def authenticator(settings_for: SettingsFor) -> AsyncIterator[BearerAuthenticator]:
    auth = build_oidc(settings_for())
    await auth.start()
    yield auth
    await auth.aclose()


async def test_real_token_gives_principal(
    oidc_provider: OidcProvider, authenticator: BearerAuthenticator
) -> None:
    token = await asyncio.to_thread(oidc_provider.token, "hermes", scope="tools:read")
    principal = await authenticator.authenticate(bearer(token), "10.0.0.5")
    assert principal.sub == "hermes"
    assert principal.client_id == "hermes"  # from the RFC 9068 client_id claim
    assert principal.username == "hermes-bot"
    assert principal.groups == ("agents", "readers")
    assert principal.entitlements == ("astro-read",)
    assert principal.issuer == oidc_provider.issuer
    assert principal.scopes == ("tools:read",)
    assert principal.token_id  # jti


async def test_settings_path_builds_the_same(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    auth = build_authenticator(AuthSettings(mode="oidc", oidc=settings_for()))
    try:
        await auth.start()
        token = await asyncio.to_thread(oidc_provider.token)
        assert (await auth.authenticate(bearer(token), None)).client_id == "hermes"
    finally:
        await auth.aclose()


async def test_client_not_allowed(
    oidc_provider: OidcProvider, authenticator: BearerAuthenticator
) -> None:
    token = await asyncio.to_thread(oidc_provider.token, "other-agent")
    assert await reason_of(authenticator, bearer(token)) == "bad-client"


async def test_token_for_another_resource(
    oidc_provider: OidcProvider, authenticator: BearerAuthenticator
) -> None:
    token = await asyncio.to_thread(oidc_provider.token, "hermes", resource="urn:other")
    assert await reason_of(authenticator, bearer(token)) == "bad-audience"


async def test_required_groups(oidc_provider: OidcProvider, settings_for: SettingsFor) -> None:
    auth = build_oidc(settings_for(required_groups=["operators"]))
    try:
        token = await asyncio.to_thread(oidc_provider.token)
        assert await reason_of(auth, bearer(token)) == "missing-group"
    finally:
        await auth.aclose()


async def test_issuer_must_match_discovery_byte_for_byte(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    auth = build_oidc(settings_for(issuer=oidc_provider.issuer.rstrip("/")))
    try:
        with pytest.raises(ConfigError) as caught:
            await auth.start()
        assert caught.value.key == "auth.oidc.issuer"
    finally:
        await auth.aclose()


async def test_unreachable_issuer_fails_closed(oidc_provider: OidcProvider) -> None:
    dead = "http://127.0.0.1:9/application/o/hermes/"  # discard port: nothing listens
    auth = build_oidc(OidcSettings(issuer=dead, audience=["labgate"]))
    try:
        await auth.start()  # logged, not fatal
        token = await asyncio.to_thread(oidc_provider.token)
        assert await reason_of(auth, bearer(token)) == "issuer-unreachable"
    finally:
        await auth.aclose()


async def test_rotation_needs_exactly_one_refetch(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    now = [1000.0]
    auth = build_oidc(settings_for(jwks_min_refetch_seconds=60), monotonic=lambda: now[0])
    try:
        await auth.start()
        assert auth.jwks is not None
        old_token = await asyncio.to_thread(oidc_provider.token)
        await auth.authenticate(bearer(old_token), None)
        oidc_provider.reset_stats()

        await asyncio.to_thread(oidc_provider.rotate)
        now[0] += 3600  # keys rotate rarely: the last fetch is long past the floor
        new_token = await asyncio.to_thread(oidc_provider.token)
        principal = await auth.authenticate(bearer(new_token), None)
        assert principal.client_id == "hermes"
        assert oidc_provider.stats()["jwks"] == 1

        # the key was rotated away: the old token now fails, and asks for no new fetch
        assert await reason_of(auth, bearer(old_token)) == "unknown-key"
        await auth.authenticate(bearer(new_token), None)
        assert oidc_provider.stats()["jwks"] == 1
        assert auth.jwks.fetches == 2
    finally:
        await auth.aclose()


async def test_refetch_floor_and_single_flight(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    now = [1000.0]
    settings = settings_for(jwks_min_refetch_seconds=60)
    async with httpx.AsyncClient(follow_redirects=False) as client:
        jwks = RemoteJwks(settings, client, clock=lambda: now[0])
        verifier = JwtVerifier(
            VerifierConfig(
                issuer=settings.issuer, audience=settings.audience, algorithms=["RS256"]
            ),
            jwks,
        )
        await jwks.start()
        oidc_provider.reset_stats()
        key = oidc_provider.signing_key

        def unknown_kid_token() -> str:
            claims = {"iss": settings.issuer, "sub": "x", "aud": "labgate", "exp": 4102444800}
            return sign({"alg": "RS256", "kid": "k-" + uuid.uuid4().hex}, claims, key)

        async def attempt() -> str:
            try:
                await verifier.verify(unknown_kid_token())
            except AuthError as exc:
                return exc.reason
            return "accepted"

        now[0] += 61  # past the floor: one refetch is allowed, shared by all 20 callers
        reasons = await asyncio.gather(*(attempt() for _ in range(20)))
        assert set(reasons) == {"unknown-key"}
        assert oidc_provider.stats()["jwks"] == 1

        now[0] += 30  # inside the floor: no fetch at all
        assert await attempt() == "unknown-key"
        assert oidc_provider.stats()["jwks"] == 1

        now[0] += 31  # the floor has passed again
        assert await attempt() == "unknown-key"
        assert oidc_provider.stats()["jwks"] == 2


async def test_every_forged_token_is_rejected_with_its_reason(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    retired = await asyncio.to_thread(oidc_provider.rotate)
    auth = build_oidc(settings_for(jwks_min_refetch_seconds=60))
    try:
        await auth.start()
        good = await asyncio.to_thread(oidc_provider.token)
        await auth.authenticate(bearer(good), None)  # the verifier works at all

        ctx = ForgeContext(
            issuer=oidc_provider.issuer,
            audience=oidc_provider.audience,
            client_id="hermes",
            signing_key=oidc_provider.signing_key,
            retired_key=retired,
        )
        control = await auth.authenticate(bearer(control_token(ctx)), None)
        assert control.sub == "forged-subject"  # the real key signs: only the claims can fail
        cases = forged_tokens(ctx)
        assert len(cases) >= 25
        assert len({c.name for c in cases}) == len(cases)
        assert "key-rotated-away" in {c.name for c in cases}
        failures = []
        for case in cases:
            headers = (
                {}
                if case.authorization_header is None
                else {"Authorization": case.authorization_header}
            )
            try:
                principal = await auth.authenticate(headers, "10.0.0.5")
            except AuthError as exc:
                if exc.reason != case.reason:
                    failures.append(f"{case.name}: {exc.reason} != {case.reason}")
                assert exc.detail == "A valid bearer token is required."
            else:
                failures.append(f"{case.name}: accepted as {principal.sub}")
        assert failures == []
    finally:
        await auth.aclose()
