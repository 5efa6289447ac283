"""The verifier against a real OIDC provider process laid out like Authentik."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.auth import AuthSettings, BearerAuthenticator, build_authenticator
from gateway.auth.jwks import RemoteJwks, jwks_egress
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
    auth = build_oidc(OidcSettings(issuer=dead, audience=["labgate"], jwks_min_refetch_seconds=1))
    try:
        await auth.start()  # logged, not fatal
        token = await asyncio.to_thread(oidc_provider.token)
        assert await reason_of(auth, bearer(token)) == "issuer-unreachable"
    finally:
        await auth.aclose()


async def test_rotation_is_picked_up_by_one_fetch(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    auth = build_oidc(settings_for(jwks_min_refetch_seconds=1))
    try:
        await auth.start()
        assert auth.jwks is not None
        old_token = await asyncio.to_thread(oidc_provider.token)
        await auth.authenticate(bearer(old_token), None)
        oidc_provider.reset_stats()

        await asyncio.to_thread(oidc_provider.rotate)
        new_token = await asyncio.to_thread(oidc_provider.token)
        principal = await auth.authenticate(bearer(new_token), None)  # waits, is not refused
        assert principal.client_id == "hermes"
        assert oidc_provider.stats()["jwks"] == 1

        # the key was rotated away: the old token now fails
        assert await reason_of(auth, bearer(old_token)) == "unknown-key"
        fetched = oidc_provider.stats()["jwks"]
        await auth.authenticate(bearer(new_token), None)
        assert oidc_provider.stats()["jwks"] == fetched  # a known kid never fetches
    finally:
        await auth.aclose()


async def test_unknown_kids_are_paced_and_share_fetches(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    settings = settings_for(jwks_min_refetch_seconds=1)
    egress = jwks_egress(settings)  # the gateway's own way to the provider
    try:
        jwks = RemoteJwks(settings, egress)
        verifier = JwtVerifier(
            VerifierConfig(
                issuer=settings.issuer, audience=settings.audience, algorithms=["RS256"]
            ),
            jwks,
        )
        await jwks.start()
        try:
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

            reasons = await asyncio.gather(*(attempt() for _ in range(20)))
            assert set(reasons) == {"unknown-key"}
            assert oidc_provider.stats()["jwks"] == 1  # one fetch for twenty callers
            assert await attempt() == "unknown-key"
            assert oidc_provider.stats()["jwks"] == 2  # the next one, an interval later
        finally:
            await jwks.aclose()
    finally:
        await egress.aclose()


async def test_every_forged_token_is_rejected_with_its_reason(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    retired = await asyncio.to_thread(oidc_provider.rotate)
    auth = build_oidc(settings_for(jwks_min_refetch_seconds=1))  # unknown kids wait for a fetch
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


async def test_a_key_the_issuer_removed_stops_being_trusted_unasked(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    """No token with a new kid arrives: the issuer's max-age alone brings the new key set."""
    await asyncio.to_thread(oidc_provider.set_jwks_cache_control, "public, max-age=2")
    auth = build_oidc(settings_for(jwks_min_refetch_seconds=1, jwks_max_age_seconds=60))
    try:
        await auth.start()
        old_token = await asyncio.to_thread(oidc_provider.token)
        await auth.authenticate(bearer(old_token), None)  # verified, and remembered
        oidc_provider.reset_stats()
        await asyncio.to_thread(oidc_provider.rotate)  # the old key is gone from the JWKS
        for _ in range(300):  # the background refresh is the event waited for (30 s: broken)
            if (await asyncio.to_thread(oidc_provider.stats))["jwks"] >= 1:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the key set was never refreshed in the background")
        assert await reason_of(auth, bearer(old_token)) == "unknown-key"
    finally:
        await asyncio.to_thread(oidc_provider.set_jwks_cache_control, None)
        await auth.aclose()
