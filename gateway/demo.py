"""``labgate demo``: the whole pipeline with no lab at all.

Sample upstreams, a dev issuer whose key lives in the state directory, the shipped policies and
the local journal as the audit store; binds loopback only. Prints a token, a curl line and an MCP
client configuration, then serves until interrupted.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from gateway.auth.dev import DevIssuer
from gateway.errors import ConfigError
from gateway.settings import Settings, load_settings

__all__ = ["demo_settings", "mint_token", "run_demo", "shipped_policies"]


def shipped_policies() -> Path:
    """``./policies`` when run from a checkout, else the directory beside the package."""
    here = Path("policies")
    if (here / "gateway.yaml").is_file():
        return here
    return Path(__file__).resolve().parent.parent / "policies"


def demo_settings(port: int, operator_port: int, state_dir: Path) -> Settings:
    state_dir.mkdir(parents=True, exist_ok=True)
    return load_settings(
        None,
        listen={"host": "127.0.0.1", "port": port},
        operator_listen={"host": "127.0.0.1", "port": operator_port},
        auth={"mode": "dev", "dev": {"key_file": str(state_dir / "dev-key.pem")}},
        sample_data=True,
        capabilities={"health": {"status_pages": ["homelab"]}},
        policy_dir=str(shipped_policies()),
        journal_path=str(state_dir / "audit.db"),
    )


def mint_token(
    settings: Settings,
    *,
    sub: str,
    client_id: str,
    groups: list[str],
    ttl: int,
    username: str | None = None,
) -> str:
    if settings.auth.mode != "dev" or settings.auth.dev.key_file is None:
        raise ConfigError(
            "tokens can only be minted in dev mode with auth.dev.key_file set",
            key="auth.dev.key_file",
        )
    issuer = DevIssuer.from_settings(settings.auth.dev)
    return issuer.mint(
        sub, client_id=client_id, groups=groups or ["agents"], ttl=ttl, username=username or sub
    )


def banner(settings: Settings, token: str) -> str:
    base = settings.agent_base_url()
    mcp: dict[str, Any] = {
        "mcpServers": {
            "labgate": {"url": f"{base}/mcp", "headers": {"Authorization": f"Bearer {token}"}}
        }
    }
    ops = f"http://{settings.operator_listen.host}:{settings.operator_listen.port}"
    return "\n".join(
        [
            "labgate demo: sample data, dev issuer, shipped policies, local journal.",
            f"  agent listener    {base}",
            f"  operator listener {ops}/readyz  {ops}/metrics",
            f"  audit journal     {settings.journal_path}",
            "",
            "Token (client hermes, group agents, 1 hour):",
            token,
            "",
            "Try:",
            f"  curl -s -H 'Authorization: Bearer {token}' {base}/v1/tools?format=openai",
            f"  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
            f"-d '{{}}' {base}/v1/tools/health_summary",
            "",
            "A denial tells the agent only 'not permitted'; the operator sees why in the audit",
            f"log (labgate audit tail --journal {settings.journal_path}) or asks:",
            "  labgate policy explain --claims "
            '\'{"client_id": "hermes", "groups": ["agents"], "sub": "x"}\' '
            '--tool documents_search --args \'{"query": "invoice"}\'',
            "(the shipped documents policy denies every call 01:00-06:00 Europe/Paris).",
            "",
            "MCP client configuration:",
            json.dumps(mcp, indent=2),
            "",
        ]
    )


def run_demo(port: int, operator_port: int, state_dir: Path) -> int:
    from gateway.serve import serve

    settings = demo_settings(port, operator_port, state_dir)
    token = mint_token(
        settings, sub="hermes-agent", client_id="hermes", groups=["agents"], ttl=3600
    )
    print(banner(settings, token), flush=True)
    return asyncio.run(serve(settings))
