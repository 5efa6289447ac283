"""HS256 only with an explicitly configured secret file; never with a public key as secret."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from gateway.auth.oidc import build_oidc
from gateway.auth.settings import OidcSettings
from gateway.errors import AuthError
from tests.support.forged_tokens import sign
from tests.support.oidc import new_signing_key

ISSUER = "https://auth.lab.example/application/o/hermes/"
SECRET = b"a-client-secret-of-at-least-32-bytes!!"
KEY = new_signing_key()


def jwks_only(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"keys": [dict(KEY.as_dict(private=False))]})


def claims() -> dict[str, object]:
    now = int(time.time())
    return {"iss": ISSUER, "sub": "s", "aud": "labgate", "azp": "hermes", "exp": now + 60}


async def reason(settings: OidcSettings, token: str) -> str:
    auth = build_oidc(settings, transport=httpx.MockTransport(jwks_only))
    try:
        await auth.authenticate({"authorization": f"Bearer {token}"}, None)
    except AuthError as exc:
        return exc.reason
    finally:
        await auth.aclose()
    return "accepted"


@pytest.fixture
def hs_settings(tmp_path: Path) -> OidcSettings:
    secret = tmp_path / "hs256"
    secret.write_bytes(SECRET + b"\n")
    return OidcSettings(
        issuer=ISSUER,
        audience=["labgate"],
        algorithms=["RS256", "HS256"],
        hs256_secret_file=secret,
        jwks_url=ISSUER + "jwks/",
    )


async def test_hs256_with_the_configured_secret(hs_settings: OidcSettings) -> None:
    assert await reason(hs_settings, sign({"alg": "HS256"}, claims(), SECRET)) == "accepted"


async def test_hs256_with_another_secret(hs_settings: OidcSettings) -> None:
    token = sign({"alg": "HS256"}, claims(), b"x" * 40)
    assert await reason(hs_settings, token) == "bad-signature"


async def test_public_key_as_hmac_secret_never_verifies(hs_settings: OidcSettings) -> None:
    for secret in (KEY.as_pem(private=False), str(KEY.as_dict(private=False)).encode()):
        token = sign({"alg": "HS256", "kid": KEY.kid}, claims(), secret)
        assert await reason(hs_settings, token) == "bad-signature"


async def test_rs256_still_works_beside_hs256(hs_settings: OidcSettings) -> None:
    token = sign({"alg": "RS256", "kid": KEY.kid}, claims(), KEY)
    assert await reason(hs_settings, token) == "accepted"
