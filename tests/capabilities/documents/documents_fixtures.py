"""Helpers to run the documents capability against the fake paperless-ngx.

``make_capability_config(fake_url, token_file)`` is what the full-app tests need: the
``upstreams`` and ``capabilities`` settings that point the capability at a running fake.
``paperless_fake`` (both flavours) and ``_paperless_servers`` are pytest fixtures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from capabilities.documents.client import PaperlessClient
from capabilities.documents.schemas import DocumentsConfig, DocumentsScope
from gateway.capability import Principal, ToolContext

from .fake_paperless import FLAVOURS, TOKENS, FakePaperless, serve

__all__ = [
    "NOW",
    "RunningFake",
    "make_capability_config",
    "paperless_client",
    "paperless_fake",
    "tool_context",
]

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def make_capability_config(fake_url: str, token_file: Path, user: str = "admin") -> dict[str, Any]:
    """Settings fragment to run the capability against the fake inside the full app.

    Writes the fake user's token to ``token_file`` (the gateway reads secrets from files) and
    returns ``{"upstreams": {"paperless": ...}, "capabilities": {"documents": ...}}``.
    ``admin`` sees every tag, so the shipped policy resolves; ``hermes`` cannot see the tag
    ``medical`` and therefore makes the shipped policy fail closed.
    """
    token_file.write_text(TOKENS[user], "utf-8")
    return {
        "upstreams": {
            "paperless": {
                "base_url": fake_url,
                "auth": {"scheme": "token", "secret_file": str(token_file)},
            }
        },
        "capabilities": {"documents": {"upstream": "paperless"}},
    }


def paperless_client(url: str, user: str = "admin", ttl: float = 300) -> PaperlessClient:
    http = httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Token {TOKENS[user]}"}, timeout=10
    )
    return PaperlessClient(http, cache_ttl_seconds=ttl)


def tool_context(
    client: PaperlessClient,
    scope: DocumentsScope | None,
    config: DocumentsConfig | None = None,
    now: dt.datetime = NOW,
) -> ToolContext:
    return ToolContext(
        principal=Principal(sub="hermes", client_id="hermes", groups=("agents",)),
        request_id="test",
        now=now,
        scope=scope,
        config=config or DocumentsConfig(),
        clients={PaperlessClient: client},
    )


class RunningFake:
    def __init__(self, fake: FakePaperless, url: str) -> None:
        self.fake = fake
        self.url = url

    def reset(self) -> None:
        self.fake.log.clear()
        self.fake.faults.clear()


@pytest.fixture(scope="session")
def _paperless_servers() -> Iterator[dict[str, RunningFake]]:
    with ExitStack() as stack:
        running: dict[str, RunningFake] = {}
        for version in FLAVOURS:
            fake = FakePaperless(version)
            running[version] = RunningFake(fake, stack.enter_context(serve(fake)))
        yield running


@pytest.fixture(params=FLAVOURS)
def paperless_fake(
    request: pytest.FixtureRequest, _paperless_servers: dict[str, RunningFake]
) -> RunningFake:
    """A running fake paperless-ngx, once per flavour (2.20.15, 3.0.5), log cleared."""
    running = _paperless_servers[request.param]
    running.reset()
    return running
