"""Identity at the API: real provider tokens pass; every forged token gets 401 with no policy
evaluated (the audit record carries no policy version and no rule)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.policy.policyset import PolicySet
from gateway.policy.store import PolicyStore
from tests.support.forged_tokens import ForgeContext, forged_tokens
from tests.support.gateway_app import Gateway
from tests.support.oidc import OidcProvider


class CountingStore:
    """Wraps the real store; counts every read of the policy set (a decision needs one)."""

    def __init__(self, inner: PolicyStore) -> None:
        self.inner = inner
        self.reads = 0

    @property
    def current(self) -> PolicySet:
        self.reads += 1
        return self.inner.current


@pytest.fixture
async def oidc_gw(
    make_gateway: Callable[..., Any], oidc_provider: OidcProvider
) -> AsyncIterator[tuple[Gateway, CountingStore]]:
    auth = {
        "mode": "oidc",
        "oidc": {
            "issuer": oidc_provider.issuer,
            "audience": [oidc_provider.audience],
            "allowed_clients": ["hermes", "other-agent"],
            "jwks_min_refetch_seconds": 1,  # unknown kids wait for the next fetch
        },
        "throttle": {"burst": 1000},  # every forged case comes from one address
    }
    async with make_gateway(auth=auth) as gw:
        pipeline = gw.runtime.pipeline
        store = CountingStore(pipeline.policies)
        pipeline.policies = store
        yield gw, store


async def test_real_token_is_accepted(
    oidc_gw: tuple[Gateway, CountingStore], oidc_provider: OidcProvider
) -> None:
    gw, _ = oidc_gw
    token = oidc_provider.token("hermes")
    r = await gw.client.post(
        "/v1/tools/testcap_echo", json={"text": "hi"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    rec = (await gw.journal_records())[-1]
    assert rec["client_id"] == "hermes" and rec["username"] == "hermes-bot"
    assert rec["token_id"]


async def test_token_for_another_audience_is_refused(
    oidc_gw: tuple[Gateway, CountingStore], oidc_provider: OidcProvider
) -> None:
    gw, store = oidc_gw
    token = oidc_provider.token("hermes", resource="urn:other")
    r = await gw.client.post(
        "/v1/tools/testcap_echo", json={"text": "hi"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401
    assert store.reads == 0


async def test_forged_tokens_get_401_and_no_policy_is_evaluated(
    oidc_gw: tuple[Gateway, CountingStore], oidc_provider: OidcProvider
) -> None:
    gw, store = oidc_gw
    retired = oidc_provider.retired_keys[-1] if oidc_provider.retired_keys else None
    ctx = ForgeContext(
        issuer=oidc_provider.issuer,
        audience=oidc_provider.audience,
        client_id="hermes",
        signing_key=oidc_provider.signing_key,
        retired_key=retired,
        client_allow_list=True,
    )
    cases = forged_tokens(ctx)
    assert len(cases) >= 25
    for case in cases:
        headers = (
            {}
            if case.authorization_header is None
            else {"Authorization": case.authorization_header}
        )
        r = await gw.client.post("/v1/tools/testcap_echo", json={"text": "hi"}, headers=headers)
        assert r.status_code == 401, case.name
        assert r.json()["code"] == "unauthenticated", case.name
        assert "WWW-Authenticate" in r.headers, case.name
    assert store.reads == 0, "a policy was evaluated for an unauthenticated call"
    assert await gw.journal_records() == []  # no call record: an auth_failure record each
    counted: Counter[str] = Counter()
    for rec in await gw.journal_records("auth_failure"):
        assert rec["decision"] == "deny" and rec["error_code"] == "unauthenticated"
        assert rec["policy_version"] is None and rec["rule_id"] is None
        assert rec["reasons"][0] == "unauthenticated" and rec["face"] == "rest"
        assert rec["notes"]["client_address"] == "127.0.0.1"
        counted[rec["reasons"][1]] += rec["notes"]["count"]
    assert counted == Counter(case.reason for case in cases)
