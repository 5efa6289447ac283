"""An in-process gateway over the test capability, driven from synchronous tests (hypothesis)
through an anyio blocking portal; its journal is the recorded traffic replay reads."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from gateway.app import create_app
from gateway.auth.dev import DevIssuer
from gateway.registry import Registry
from gateway.runtime import Runtime
from tests.support import testcap
from tests.support.gateway_app import FIXTURE_POLICIES, gateway_settings

REGISTRY = Registry([testcap.CAPABILITY])


@dataclass
class Served:
    portal: BlockingPortal
    client: httpx.AsyncClient
    issuer: DevIssuer
    runtime: Runtime
    policy_dir: Path

    def call(
        self,
        tool: str,
        args: dict[str, Any],
        client_id: str = "hermes",
        groups: tuple[str, ...] = ("agents",),
        username: str | None = None,
    ) -> int:
        token = self.issuer.mint(
            f"sub-{client_id}" + (f"-{username}" if username else ""),
            client_id=client_id,
            groups=groups,
            username=username,
        )
        headers = {"Authorization": f"Bearer {token}"}
        response = self.portal.call(self._post, f"/v1/tools/{tool}", args, headers)
        return response.status_code

    async def _post(self, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(path, json=body, headers=headers)

    def records(self) -> list[dict[str, Any]]:
        journal = self.runtime.journal
        assert journal is not None
        rows = self.portal.call(journal.read_after, 0, 1_000_000)
        return [r.as_dict() for r in rows if r.as_dict()["kind"] == "call"]


@asynccontextmanager
async def _serving(tmp: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Path]]:
    policies = tmp / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    settings = gateway_settings(tmp, policies)
    app = create_app(settings, registry=REGISTRY)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, app, policies


@contextmanager
def served(tmp: Path) -> Iterator[Served]:
    with start_blocking_portal(backend="asyncio") as portal:
        with portal.wrap_async_context_manager(_serving(tmp)) as (client, app, policies):
            runtime: Runtime = app.state.runtime
            settings = runtime.settings
            issuer = DevIssuer.from_settings(settings.auth.dev)
            yield Served(portal, client, issuer, runtime, policies)
