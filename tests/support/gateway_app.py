"""Fixtures that build the gateway in process over the test capability."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth.dev import DevIssuer
from gateway.registry import Registry
from gateway.runtime import Runtime
from gateway.settings import Settings, load_settings
from tests.support import testcap

FIXTURE_POLICIES = Path(__file__).resolve().parent.parent / "fixtures" / "policies"


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    issuer: DevIssuer
    policy_dir: Path

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.app.state.runtime
        return rt

    def token(
        self, client_id: str = "hermes", groups: tuple[str, ...] = ("agents",), **kw: Any
    ) -> str:
        kw.setdefault("sub", f"sub-{client_id}")
        sub = kw.pop("sub")
        return self.issuer.mint(sub, client_id=client_id, groups=list(groups), **kw)

    def auth(
        self, client_id: str = "hermes", groups: tuple[str, ...] = ("agents",), **kw: Any
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(client_id, groups, **kw)}"}

    async def journal_records(self, kind: str | None = "call") -> list[dict[str, Any]]:
        journal = self.runtime.journal
        assert journal is not None
        rows = await journal.read_after(0, 100_000)
        return [r.as_dict() for r in rows if kind is None or r.as_dict()["kind"] == kind]


def gateway_settings(tmp: Path, policy_dir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "auth": {"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}},
        "policy_dir": str(policy_dir),
        "journal_path": str(tmp / "audit.db"),
        "capabilities": {"testcap": {}},
        "watch_policies": False,
    }
    base.update(overrides)
    return load_settings(None, **base)


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(FIXTURE_POLICIES, target)
    return target


@pytest.fixture
def make_gateway(tmp_path: Path, policy_dir: Path) -> Callable[..., Any]:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[Gateway]:
        settings = gateway_settings(tmp_path, policy_dir, **overrides)
        app = create_app(settings, registry=Registry([testcap.CAPABILITY]))
        issuer = DevIssuer.from_settings(settings.auth.dev)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                yield Gateway(app, client, settings, issuer, policy_dir)

    return factory


@pytest.fixture
async def gw(make_gateway: Callable[..., Any]) -> AsyncIterator[Gateway]:
    async with make_gateway() as g:
        yield g
