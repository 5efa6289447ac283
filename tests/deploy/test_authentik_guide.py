"""docs/authentik.md followed step by step against the tests' OIDC provider (Authentik's layout)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.live import ROOT, live_config, running
from tests.support.oidc import OidcProvider


def test_guide_settings_accept_the_providers_tokens_and_nothing_else(
    oidc_provider: OidcProvider, tmp_path: Path
) -> None:
    guide = (ROOT / "docs" / "authentik.md").read_text()
    # Step "check the issuer": discovery answers under the issuer, trailing slash kept.
    discovery = httpx.get(oidc_provider.issuer + ".well-known/openid-configuration").json()
    assert discovery["issuer"] == oidc_provider.issuer and discovery["issuer"].endswith("/")
    assert discovery["jwks_uri"].startswith(oidc_provider.issuer)
    keys = httpx.get(discovery["jwks_uri"]).json()["keys"]
    assert keys and all(k["kty"] in ("RSA", "EC") for k in keys)  # a signing key, not HS256
    assert ".well-known/openid-configuration" in guide and "jwks/" in guide

    # Step "configure labgate": the guide's auth block, with this provider's issuer.
    config = live_config(tmp_path)
    config["auth"] = {
        "mode": "oidc",
        "oidc": {
            "issuer": oidc_provider.issuer,
            "audience": [oidc_provider.audience],
            "allowed_clients": ["hermes"],
            "algorithms": ["RS256"],
        },
    }
    with running(tmp_path, config) as live:
        # Step "get a token with client credentials" and "call labgate".
        token = oidc_provider.token("hermes", resource="urn:labgate")
        r = httpx.post(
            live.base + "/v1/tools/testcap_echo",
            json={"text": "hi"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        # Another client of the same issuer is refused (allowed_clients).
        other = oidc_provider.token("other-agent", resource="urn:labgate")
        r = httpx.post(
            live.base + "/v1/tools/testcap_echo",
            json={"text": "hi"},
            headers={"Authorization": f"Bearer {other}"},
        )
        assert r.status_code == 401
        # A token for another API (audience) is refused.
        foreign = oidc_provider.token("hermes", resource="urn:other")
        r = httpx.post(
            live.base + "/v1/tools/testcap_echo",
            json={"text": "hi"},
            headers={"Authorization": f"Bearer {foreign}"},
        )
        assert r.status_code == 401
