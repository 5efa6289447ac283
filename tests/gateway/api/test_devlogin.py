"""The dev issuer's OAuth endpoints (labgate demo): an MCP client can log in, nothing else.

In process, through the app; ``public_url`` puts the dev issuer on the agent listener's origin,
as ``labgate demo`` does. Hermes' own OAuth code logs in to a real demo in test_hermes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.support.gateway_app import Gateway

BASE = "http://127.0.0.1:8080"
ISSUER = BASE + "/dev/"
REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture
async def demo(make_gateway: Callable[..., Any], tmp_path: Any) -> AsyncIterator[Gateway]:
    dev = {"key_file": str(tmp_path / "dev-key.pem"), "issuer": ISSUER}
    async with make_gateway(public_url=BASE, auth={"mode": "dev", "dev": dev}) as gw:
        gw.client.base_url = BASE  # type: ignore[assignment]
        yield gw


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(40)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def auth_params(challenge: str, **changes: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "hermes",
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "openid offline_access",
    }
    params.update(changes)
    return params


async def sign_in(gw: Gateway, params: dict[str, str]) -> dict[str, str]:
    page = await gw.client.get("/dev/authorize?" + urlencode(params))
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    done = await gw.client.post("/dev/authorize", data=fields)
    assert done.status_code == 303
    location = done.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_metadata_names_the_endpoints_under_the_issuer(demo: Gateway) -> None:
    for path in (
        "/.well-known/oauth-authorization-server/dev",
        "/dev/.well-known/openid-configuration",
    ):
        meta = (await demo.client.get(path)).json()
        assert meta["issuer"] == ISSUER
        assert meta["token_endpoint"] == BASE + "/dev/token"
        assert meta["code_challenge_methods_supported"] == ["S256"]
    prm = (await demo.client.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert prm["authorization_servers"] == [ISSUER]


async def test_login_code_pkce_refresh_and_the_token_works(demo: Gateway) -> None:
    verifier, challenge = pkce()
    answer = await sign_in(demo, auth_params(challenge))
    assert answer["state"] == "st-1" and answer["iss"] == ISSUER
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "client_id": "hermes",
        "code_verifier": verifier,
    }
    tokens = (await demo.client.post("/dev/token", data=form)).json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    again = await demo.client.post("/dev/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # single use
    listed = await demo.client.get(
        "/v1/tools", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert listed.status_code == 200
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    renewed = (await demo.client.post("/dev/token", data=refresh)).json()
    assert renewed["access_token"] and renewed["refresh_token"] != tokens["refresh_token"]
    replay = await demo.client.post("/dev/token", data=refresh)
    assert replay.json()["error"] == "invalid_grant"  # rotated


async def test_the_code_needs_the_verifier_and_the_same_redirect(demo: Gateway) -> None:
    verifier, challenge = pkce()
    for changes in ({"code_verifier": pkce()[0]}, {"redirect_uri": REDIRECT + "x"}):
        answer = await sign_in(demo, auth_params(challenge))
        form = {
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **changes,
        }
        refused = await demo.client.post("/dev/token", data=form)
        assert refused.json()["error"] == "invalid_grant", changes


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": "https://evil.example/callback"},  # never off the loopback
        {"redirect_uri": "http://127.0.0.1.evil.example/callback"},
        {"client_id": "other-agent"},
        {"code_challenge_method": "plain"},
        {"response_type": "token"},
    ],
)
async def test_bad_authorization_requests_get_no_code(
    demo: Gateway, changes: dict[str, str]
) -> None:
    params = auth_params(pkce()[1], **changes)
    for response in (
        await demo.client.get("/dev/authorize?" + urlencode(params)),
        await demo.client.post("/dev/authorize", data=params),
    ):
        assert response.status_code == 400 and "location" not in response.headers
        assert "evil" not in response.text


async def test_registration_answers_the_demo_client_for_loopback_uris(demo: Gateway) -> None:
    ok = await demo.client.post("/dev/register", json={"redirect_uris": [REDIRECT]})
    assert ok.status_code == 201 and ok.json()["client_id"] == "hermes"
    bad = await demo.client.post(
        "/dev/register", json={"redirect_uris": ["https://evil.example/cb"]}
    )
    assert bad.status_code == 400


async def test_no_login_endpoints_outside_the_demo_layout(make_gateway: Any) -> None:
    async with make_gateway() as gw:  # dev issuer not on this origin
        assert (await gw.client.get("/dev/.well-known/openid-configuration")).status_code == 404
