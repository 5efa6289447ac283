"""A small paperless world and a gateway that proposes changes in it (no Matrix needed).

World (fake paperless 3.0.5): unowned tags ``agent-visible``, ``inbox``, ``ai/invoice``,
``ai/astro``, ``medical``, ``private``; documents 1 ``Scan 0001`` (agent-visible, inbox),
2 ``Lab letter`` (agent-visible, medical: outside the scope), 3 ``Owned scan`` (agent-visible,
owned by admin, visible to hermes and alice: the write user may not change it).
Read token: ``hermes`` (view permissions only); write token: ``alice`` (``change_document``).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from capabilities.documents import CAPABILITY
from gateway.app import create_app
from gateway.audit.reader import JournalReader
from gateway.auth.dev import DevIssuer
from gateway.registry import Registry
from gateway.settings import load_settings
from tests.support.faces import MODERN

from .fake_paperless import TOKENS, FakePaperless

POLICIES = Path(__file__).resolve().parents[3] / "policies"
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
APPROVER = "@owner:localhost"

POLICY = """\
capability: documents
rules:
  - id: hermes-reads
    who: {clients: [hermes]}
    tools: [documents_get, documents_search, documents_list_tags]
    scope: {tags_all: [agent-visible], tags_none: [medical]}
  - id: hermes-proposes
    who: {clients: [hermes]}
    tools: [documents_propose_metadata, documents_proposal_status]
    scope:
      tags_all: [agent-visible]
      tags_none: [medical]
      propose: {add_tags: ["ai/*"], remove_tags: [inbox], fields: [title]}
    approval:
      required: true
      approvers: ["%s"]
      expires_after: 1h
      daily_quota: %d
"""


class Clock:
    """The gateway's wall clock, moved by the test."""

    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    fake: FakePaperless
    ids: dict[str, int] = field(default_factory=dict)

    def doc(self, ident: int) -> dict[str, Any]:
        return next(d for d in self.fake.objects["documents"] if d["id"] == ident)

    def tag_names(self, ident: int) -> set[str]:
        names = {t["id"]: t["name"] for t in self.fake.objects["tags"]}
        return {names[t] for t in self.doc(ident)["tags"]}

    def writes(self) -> list[str]:
        return [f"{e.method} {e.path}" for e in self.fake.log if e.method != "GET"]


def make_world() -> World:
    fake = FakePaperless.empty("3.0.5")
    admin, hermes, alice = (fake.user_id(u) for u in ("admin", "hermes", "alice"))
    ids = {
        n: fake.add_object("tags", n)
        for n in ("agent-visible", "inbox", "ai/invoice", "ai/astro", "medical", "private")
    }
    fake.add_document(
        "Scan 0001", "ACME invoice total 42 EUR", "2025-03-01",
        tags=[ids["agent-visible"], ids["inbox"]],
    )  # fmt: skip
    fake.add_document(
        "Lab letter", "results", "2025-03-02", tags=[ids["agent-visible"], ids["medical"]]
    )
    fake.add_document(
        "Owned scan", "telescope receipt", "2025-03-03",
        tags=[ids["agent-visible"]], owner=admin, viewers=(hermes, alice),
    )  # fmt: skip
    return World(fake, ids)


@dataclass
class Gate:
    http: httpx.AsyncClient
    issuer: DevIssuer
    journal: Path
    store: Path

    def token(self, client_id: str = "hermes", sub: str | None = None) -> str:
        return self.issuer.mint(sub or f"sub-{client_id}", client_id=client_id, groups=["agents"])

    async def rest(
        self, tool: str, args: dict[str, Any], token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return await self.http.post(f"/v1/tools/{tool}", json=args, headers=headers)

    async def mcp_call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        """``tools/call`` on the MCP face; the result object (``isError`` on refusal)."""
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": args, "_meta": meta},
        }
        headers = {
            "Authorization": f"Bearer {self.token()}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/call",
            "Mcp-Name": tool,
        }
        r = await self.http.post("/mcp", json=body, headers=headers)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()["result"]
        return result

    def records(self, kind: str = "approval") -> list[dict[str, Any]]:
        import json

        with JournalReader(self.journal) as reader:
            rows = reader.rows_after(0, 100_000)
        return [r.as_dict() for r in rows if json.loads(r.record)["kind"] == kind]

    def steps(self, proposal_id: str) -> list[str]:
        return [
            r["decision"] for r in self.records() if r["notes"].get("proposal_id") == proposal_id
        ]


def write_policies(tmp: Path, approver: str = APPROVER, quota: int = 20) -> Path:
    policy_dir = tmp / "policies"
    policy_dir.mkdir(exist_ok=True)
    shutil.copy(POLICIES / "gateway.yaml", policy_dir / "gateway.yaml")
    (policy_dir / "documents.yaml").write_text(POLICY % (approver, quota))
    return policy_dir


def settings_for(tmp: Path, paperless_url: str, **extra: Any) -> dict[str, Any]:
    (tmp / "read-token").write_text(TOKENS["hermes"])
    (tmp / "write-token").write_text(TOKENS["alice"])
    policy_dir = tmp / "policies"
    if not policy_dir.exists():
        write_policies(tmp)
    upstreams = {
        "paperless": {
            "base_url": paperless_url,
            "auth": {"scheme": "token", "secret_file": str(tmp / "read-token")},
            "retries": 0,
        },
        "paperless-write": {
            "base_url": paperless_url,
            "auth": {"scheme": "token", "secret_file": str(tmp / "write-token")},
            "retries": 0,
        },
        **extra.pop("upstreams", {}),
    }
    return {
        "auth": {"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}},
        "policy_dir": str(policy_dir),
        "journal_path": str(tmp / "audit.db"),
        "watch_policies": False,
        "upstreams": upstreams,
        "capabilities": {
            "documents": {"upstream": "paperless", "write_upstream": "paperless-write"}
        },
        "approvals": {"poll_seconds": 0.05, **extra.pop("approvals", {})},
        **extra,
    }


@asynccontextmanager
async def gateway(
    tmp: Path, paperless_url: str, clock: Callable[[], datetime], **extra: Any
) -> AsyncIterator[Gate]:
    s = load_settings(None, **settings_for(tmp, paperless_url, **extra))
    app = create_app(s, registry=Registry([CAPABILITY]), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
            yield Gate(c, DevIssuer.from_settings(s.auth.dev), s.journal_path, s.proposals_path())
