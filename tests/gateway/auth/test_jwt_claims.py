"""Time claims of tokens the real issuer's key signed: any value gets a typed reason, never a crash,
and an expired token stops at once unless a grace is configured."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.auth.oidc import BearerAuthenticator, build_oidc
from gateway.auth.settings import OidcSettings
from gateway.errors import AuthError
from tests.support.forged_tokens import ForgeContext, control_token
from tests.support.oidc import OidcProvider

SettingsFor = Callable[..., OidcSettings]

HUGE = [10**400, -(10**400), 2**1024, 2**63, 1e308, -1e308, 10**20]


def signed(provider: OidcProvider, **claims: Any) -> dict[str, str]:
    ctx = ForgeContext(
        issuer=provider.issuer,
        audience=provider.audience,
        client_id="hermes",
        signing_key=provider.signing_key,
    )
    return {"Authorization": "Bearer " + control_token(ctx, **claims)}


@pytest.fixture
async def auth(settings_for: SettingsFor) -> AsyncIterator[BearerAuthenticator]:
    authenticator = build_oidc(settings_for())
    await authenticator.start()
    yield authenticator
    await authenticator.aclose()


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", HUGE, ids=repr)
async def test_out_of_range_time_claim_is_malformed(
    oidc_provider: OidcProvider, auth: BearerAuthenticator, claim: str, value: object
) -> None:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(signed(oidc_provider, **{claim: value}), None)
    assert caught.value.reason == "malformed-claim"
    assert caught.value.status == 401


async def test_the_last_representable_exp_is_accepted(
    oidc_provider: OidcProvider, auth: BearerAuthenticator
) -> None:
    principal = await auth.authenticate(signed(oidc_provider, exp=253_402_300_799), None)
    assert principal.sub == "forged-subject"


async def test_expired_token_stops_at_once_by_default(
    oidc_provider: OidcProvider, auth: BearerAuthenticator
) -> None:
    now = int(time.time())
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(signed(oidc_provider, iat=now - 600, exp=now - 2), None)
    assert caught.value.reason == "expired"


async def test_exp_grace_is_a_setting(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    auth = build_oidc(settings_for(exp_leeway_seconds=30))
    try:
        await auth.start()
        now = int(time.time())
        principal = await auth.authenticate(signed(oidc_provider, exp=now - 2), None)
        assert principal.sub == "forged-subject"
        with pytest.raises(AuthError) as caught:
            await auth.authenticate(signed(oidc_provider, exp=now - 60), None)
        assert caught.value.reason == "expired"
    finally:
        await auth.aclose()


async def test_nbf_and_iat_keep_their_clock_skew_allowance(
    oidc_provider: OidcProvider, auth: BearerAuthenticator
) -> None:
    now = int(time.time())
    principal = await auth.authenticate(signed(oidc_provider, nbf=now + 10, iat=now + 10), None)
    assert principal.sub == "forged-subject"
