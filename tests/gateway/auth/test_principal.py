"""Claims to Principal: Authentik's and RFC 9068's claim names."""

from __future__ import annotations

import pytest

from gateway.auth.principal import check_required_groups, principal_from_claims
from gateway.errors import AuthError


def test_authentik_claims() -> None:
    principal = principal_from_claims(
        {
            "sub": "4f1c",
            "azp": "hermes",
            "uid": "per-token",
            "preferred_username": "ak-hermes-client_credentials",
            "groups": ["agents"],
            "entitlements": ["astro-read"],
            "roles": ["astro-read", "health-read"],
        },
        "https://auth/application/o/hermes/",
    )
    assert principal.client_id == "hermes"
    assert principal.token_id == "per-token"
    assert principal.entitlements == ("astro-read", "health-read")
    assert principal.scopes == ()


def test_rfc9068_claims() -> None:
    principal = principal_from_claims(
        {"sub": "s", "client_id": "hermes", "jti": "j1", "scope": "a  b a"}, None
    )
    assert principal.client_id == "hermes"
    assert principal.token_id == "j1"
    assert principal.scopes == ("a", "b")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "s", "groups": [1, 2]},
        {"sub": "s", "groups": {"a": 1}},
        {"sub": "s", "preferred_username": ["x"]},
        {"sub": "s", "uid": 7},
        {"sub": "s", "groups": ["g"] * 300},
    ],
)
def test_wrong_types_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(AuthError) as caught:
        principal_from_claims(claims, None)
    assert caught.value.reason == "malformed-claim"


def test_required_groups_any_of() -> None:
    principal = principal_from_claims({"sub": "s", "groups": "agents"}, None)
    check_required_groups(principal, ["operators", "agents"])
    check_required_groups(principal, [])
    with pytest.raises(AuthError) as caught:
        check_required_groups(principal, ["operators"])
    assert caught.value.reason == "missing-group"
