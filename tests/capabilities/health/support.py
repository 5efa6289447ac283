"""Helpers to run the health capability against the fake Uptime Kuma, here and in the
end-to-end tests (``make_capability_config``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from capabilities.health import HealthConfig, KumaClient
from capabilities.health.schemas import HealthScope
from gateway.capability import Principal, ToolContext

from .fake_kuma import API_KEY

__all__ = ["RECORDED_AT", "make_capability_config", "make_config", "make_ctx", "make_http"]

#: When each version's recordings were made: the "now" of a test against them.
RECORDED_AT = {
    "1.23.17": datetime(2026, 11, 25, 21, 45, 43, tzinfo=UTC),
    "2.0.2": datetime(2026, 11, 25, 21, 56, 36, tzinfo=UTC),
    "2.5.3": datetime(2026, 11, 25, 21, 45, 59, tzinfo=UTC),
}


def make_capability_config(fake_url: str, secret_file: Path) -> dict[str, Any]:
    """Settings (``load_settings`` keywords) that point the full app's health capability at a
    fake Uptime Kuma: HTTP Basic with an empty username and the API key (written to
    ``secret_file``) as the password, /metrics plus the ``lab`` and ``ops`` status pages."""
    secret_file.write_text(API_KEY)
    return {
        "capabilities": {
            "health": {"upstream": "uptime_kuma", "metrics": True, "status_pages": ["lab", "ops"]}
        },
        "upstreams": {
            "uptime_kuma": {
                "base_url": fake_url,
                "auth": {"scheme": "basic", "username": "", "secret_file": str(secret_file)},
            }
        },
    }


#: The deadline of tests that make a source hang: short, so they end soon.
HANG_TIMEOUT = 1.0


def make_config(**overrides: Any) -> HealthConfig:
    """A health config; the deadline is generous (a loaded machine is slow, not hung): tests
    that make a source hang pass ``request_timeout_seconds=HANG_TIMEOUT``."""
    values: dict[str, Any] = {"status_pages": ("lab", "ops"), "request_timeout_seconds": 10.0}
    values.update(overrides)
    return HealthConfig(**values)


def make_http(
    base_url: str, *, key: str = API_KEY, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        auth=httpx.BasicAuth("", key),
        timeout=httpx.Timeout(5.0),
        follow_redirects=False,
        transport=transport,
    )


def make_ctx(
    client: KumaClient,
    config: HealthConfig,
    *,
    now: datetime,
    scope: HealthScope | None = None,
) -> ToolContext:
    return ToolContext(
        principal=Principal(sub="hermes", client_id="hermes", groups=("agents",)),
        request_id="test",
        now=now,
        scope=scope,
        config=config,
        clients={KumaClient: client},
    )
