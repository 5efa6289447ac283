"""Helpers to run declarative tools against the fake lab, here and in end-to-end tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from capabilities.declarative import DeclarativeClient, DeclarativeConfig, DeclarativeStore
from gateway.capability import Principal, ToolContext

from .fake_lab import PREFIXES, TOKENS

__all__ = ["NOW", "call", "make_capability_config", "make_ctx", "plain_clients"]

NOW = datetime(2025, 1, 14, 22, 0, tzinfo=UTC)


def make_capability_config(fake_url: str, secret_dir: Path) -> dict[str, Any]:
    """``load_settings`` keywords pointing the full app's declarative capability (the shipped
    examples) at the fake lab: one upstream per service, credentials in files."""
    upstreams: dict[str, Any] = {}
    for name, prefix in PREFIXES.items():
        secret = secret_dir / f"{name}.secret"
        scheme, _, value = TOKENS[name].partition(" ")
        if name == "proxmox":
            secret.write_text(TOKENS[name])
            auth: dict[str, Any] = {"scheme": "header", "header": "Authorization"}
        else:
            secret.write_text(value)
            auth = {"scheme": scheme.lower()}
        auth["secret_file"] = str(secret)
        upstreams[name] = {"base_url": fake_url + prefix, "auth": auth}
    return {"capabilities": {"declarative": {}}, "upstreams": upstreams}


def plain_clients(fake_url: str, *, auth: bool = True) -> dict[str, httpx.AsyncClient]:
    """Plain clients (no guard) with the credentials the fake expects."""
    return {
        name: httpx.AsyncClient(
            base_url=fake_url + prefix,
            headers={"Authorization": TOKENS[name]} if auth else {},
            timeout=5.0,
        )
        for name, prefix in PREFIXES.items()
    }


def make_ctx(clients: dict[str, httpx.AsyncClient], scope: BaseModel | None = None) -> ToolContext:
    return ToolContext(
        principal=Principal("hermes-agent", client_id="hermes", groups=("agents",)),
        request_id="req-1",
        now=NOW,
        scope=scope,
        config=DeclarativeConfig(),
        clients={DeclarativeClient: DeclarativeClient(clients)},
    )


async def call(
    store: DeclarativeStore, tool: str, args: dict[str, Any], ctx: ToolContext
) -> dict[str, Any]:
    found = store.capability.tool(tool)
    assert found is not None
    out = await found.handler(found.args_model.model_validate(args), ctx)
    dumped: dict[str, Any] = out.model_dump(mode="json")
    return dumped
