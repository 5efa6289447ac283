"""The live gateway configuration the deploy tests share: the test capability, dev tokens."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gateway.auth.dev import DevIssuer
from gateway.settings import load_settings
from tests.support.gateway_app import FIXTURE_POLICIES

__all__ = ["live_config", "token_headers"]


def live_config(tmp: Path) -> dict[str, Any]:
    """Settings for ``tests.support.live.running``: fixture policies copied (so they can be
    edited), dev auth with a key file in ``tmp``, the test capability."""
    policies = tmp / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    return {
        "auth": {"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}},
        "policy_dir": str(policies),
        "extra_capabilities": ["tests.support.testcap:CAPABILITY"],
        "capabilities": {"testcap": {}},
    }


def token_headers(
    tmp: Path, client_id: str = "hermes", groups: tuple[str, ...] = ("agents",)
) -> dict[str, str]:
    settings = load_settings(
        None, auth={"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}}
    )
    issuer = DevIssuer.from_settings(settings.auth.dev)
    token = issuer.mint(f"sub-{client_id}", client_id=client_id, groups=list(groups))
    return {"Authorization": "Bearer " + token}
