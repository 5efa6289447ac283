"""The dev issuer: mint and verify with the production verifier; loopback-only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gateway.auth import AuthSettings, DevIssuer, build_authenticator, ensure_loopback
from gateway.auth.settings import DevSettings
from gateway.errors import AuthError, ConfigError
from tests.support.forged_tokens import ForgeContext, control_token, forged_tokens


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("kind", ["EC", "RSA"])
async def test_minted_token_round_trips(kind: str) -> None:
    issuer = DevIssuer.generate(kind)  # type: ignore[arg-type]
    token = issuer.mint(
        "hermes-agent",
        client_id="hermes",
        groups=["agents"],
        username="hermes",
        entitlements=["astro-read"],
        scope="tools:read",
    )
    principal = await issuer.authenticator().authenticate(bearer(token), "127.0.0.1")
    assert principal.sub == "hermes-agent"
    assert principal.client_id == "hermes"
    assert principal.groups == ("agents",)
    assert principal.username == "hermes"
    assert principal.entitlements == ("astro-read",)
    assert principal.scopes == ("tools:read",)
    assert principal.issuer == "http://127.0.0.1/dev/"
    assert principal.token_id


async def test_jwks_is_public_only() -> None:
    issuer = DevIssuer.generate()
    (key,) = issuer.jwks()["keys"]
    assert key["kid"] == issuer.kid and key["alg"] == "ES256" and key["use"] == "sig"
    assert "d" not in key


async def test_expired_dev_token() -> None:
    now = [1_700_000_000.0]
    issuer = DevIssuer.generate(clock=lambda: now[0])
    token = issuer.mint("x", ttl=60)
    auth = issuer.authenticator(clock=lambda: now[0] + 3600)
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(bearer(token), None)
    assert caught.value.reason == "expired"


async def test_other_dev_issuer_is_not_trusted() -> None:
    mine, theirs = DevIssuer.generate(), DevIssuer.generate()
    with pytest.raises(AuthError) as caught:
        await mine.authenticator().authenticate(bearer(theirs.mint("x")), None)
    assert caught.value.reason == "unknown-key"  # kid is the key's thumbprint


async def test_forged_tokens_against_dev_issuer() -> None:
    issuer = DevIssuer.generate()
    auth = issuer.authenticator()
    ctx = ForgeContext(
        issuer=issuer.issuer,
        audience=issuer.audience,
        client_id="hermes",
        signing_key=issuer.key,
        algorithms=("ES256",),
        client_allow_list=False,
    )
    assert (await auth.authenticate(bearer(control_token(ctx)), None)).sub == "forged-subject"
    wrong = []
    for case in forged_tokens(ctx):
        headers = (
            {}
            if case.authorization_header is None
            else {"Authorization": case.authorization_header}
        )
        try:
            await auth.authenticate(headers, None)
        except AuthError as exc:
            if exc.reason != case.reason:
                wrong.append(f"{case.name}: {exc.reason} != {case.reason}")
        else:
            wrong.append(f"{case.name}: accepted")
    assert wrong == []


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "dev-key.pem"
    first = DevIssuer.from_settings(DevSettings(key_file=key_file))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = DevIssuer.from_settings(DevSettings(key_file=key_file))
    assert first.kid == second.kid
    assert list(tmp_path.iterdir()) == [key_file]


def test_bad_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "dev-key.pem"
    key_file.write_text("not a key")
    with pytest.raises(ConfigError):
        DevIssuer.from_settings(DevSettings(key_file=key_file))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_hosts_pass(host: str) -> None:
    ensure_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "", "127.0.0.1.nip.io"]
)
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ConfigError):
        ensure_loopback(host)


async def test_build_dev_refuses_public_bind() -> None:
    settings = AuthSettings(mode="dev")
    with pytest.raises(ConfigError):
        build_authenticator(settings, bind_host="0.0.0.0")
    with pytest.raises(ConfigError):
        build_authenticator(settings)  # the bind host must be known to be checked
    auth = build_authenticator(settings, bind_host="127.0.0.1")
    await auth.start()
    await auth.aclose()


async def test_build_dev_shares_the_given_issuer() -> None:
    issuer = DevIssuer.generate()
    auth = build_authenticator(AuthSettings(mode="dev"), bind_host="::1", dev_issuer=issuer)
    principal = await auth.authenticate(bearer(issuer.mint("shared")), "::1")
    assert principal.sub == "shared"
