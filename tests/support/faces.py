"""Call a tool through every face of an in-process gateway: REST and MCP (stateless era)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.audit.reader import JournalReader
from gateway.auth.dev import DevIssuer
from gateway.capability import Capability
from gateway.registry import Registry
from gateway.settings import load_settings

MODERN = "2026-07-28"
POLICIES = Path(__file__).resolve().parents[2] / "policies"
VOLATILE = ("request_id", "retrieved_at")
#: The wall clock policies see in these tests: outside every shipped night-time deny rule.
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class Faces:
    http: httpx.AsyncClient
    issuer: DevIssuer
    journal: Path

    def token(self, client_id: str = "hermes", groups: Iterable[str] = ("agents",)) -> str:
        return self.issuer.mint(f"sub-{client_id}", client_id=client_id, groups=list(groups))

    async def rest(self, token: str, tool: str, args: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return await self.http.post(f"/v1/tools/{tool}", json=args, headers=headers)

    async def rest_list(self, token: str) -> set[str]:
        r = await self.http.get("/v1/tools", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return {t["name"] for t in r.json()["tools"]}

    async def mcp(self, token: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": method,
        }
        if method == "tools/call":
            headers["Mcp-Name"] = params["name"]
        r = await self.http.post("/mcp", json=body, headers=headers)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        assert "result" in answer, answer
        result: dict[str, Any] = answer["result"]
        return result

    async def mcp_call(self, token: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        return await self.mcp(token, "tools/call", {"name": tool, "arguments": args})

    async def mcp_list(self, token: str) -> set[str]:
        result = await self.mcp(token, "tools/list", {})
        return {t["name"] for t in result["tools"]}

    def records(self) -> list[dict[str, Any]]:
        with JournalReader(self.journal) as reader:
            rows = reader.rows_after(0, 100_000)
        return [r.as_dict() for r in rows if json.loads(r.record)["kind"] == "call"]


def stable(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope without the per-call fields (request id, retrieval time, cache flag)."""
    out = {k: v for k, v in envelope.items() if k not in VOLATILE}
    out["provenance"] = {
        k: v for k, v in envelope["provenance"].items() if k not in (*VOLATILE, "cached")
    }
    return out


@asynccontextmanager
async def faces(
    tmp: Path, capability: Capability, policy_files: Iterable[str], **settings: Any
) -> AsyncIterator[Faces]:
    """The full app over one capability, governed by shipped policy files from policies/."""
    policy_dir = tmp / "policies"
    policy_dir.mkdir(exist_ok=True)
    for name in ("gateway.yaml", *policy_files):
        (policy_dir / name).write_text((POLICIES / name).read_text())
    values: dict[str, Any] = {
        "auth": {"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}},
        "policy_dir": str(policy_dir),
        "journal_path": str(tmp / "audit.db"),
        "watch_policies": False,
        **settings,
    }
    s = load_settings(None, **values)
    app = create_app(s, registry=Registry([capability]), clock=lambda: NOON)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
            yield Faces(c, DevIssuer.from_settings(s.auth.dev), s.journal_path)
