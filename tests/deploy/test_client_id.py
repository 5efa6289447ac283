"""One client id everywhere: the example settings, the shipped policies, the demo, the guide.

Switching from the demo to Authentik with the shipped policies must not leave Hermes with zero
tools: the client id the example settings accept is the one the policies name.
"""

from __future__ import annotations

import re

import yaml

from gateway.auth.settings import AuthSettings
from gateway.cli import build_parser
from gateway.doctor.identity import policy_clients
from gateway.policy.loader import load_policy_dir
from gateway.registry import load_registry
from tests.support.live import ROOT

CLIENT = "hermes"


def test_shipped_policies_name_one_client() -> None:
    policies = load_policy_dir(ROOT / "policies", load_registry())
    assert policy_clients(policies) == {CLIENT}


def test_example_settings_accept_the_client_the_policies_name() -> None:
    example = yaml.safe_load((ROOT / "deploy" / "gateway.example.yaml").read_text("utf-8"))
    oidc = AuthSettings.model_validate(example["auth"]).oidc
    assert oidc is not None
    assert oidc.allowed_clients == [CLIENT]
    assert oidc.audience == [CLIENT]  # Authentik: aud is the provider's Client ID


def test_demo_token_uses_the_client() -> None:
    args = build_parser().parse_args(["token"])
    assert args.client == CLIENT


def test_authentik_guide_sets_the_client_id() -> None:
    guide = (ROOT / "docs" / "authentik.md").read_text("utf-8")
    assert re.search(r"\| Client ID \| \*\*replace the generated value with `hermes`\*\*", guide)
    assert "keep the generated value" not in guide
    blocks = re.findall(r"```yaml\n(.*?)```", guide, re.S)
    auth = [yaml.safe_load(b)["auth"] for b in blocks if "allowed_clients" in b]
    assert auth and all(a["oidc"]["allowed_clients"] == [CLIENT] for a in auth)
