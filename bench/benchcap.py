"""The bench capability: two tools that fetch one item from the upstream stub.

Loaded by the gateway under test through ``extra_capabilities: ["bench.benchcap:CAPABILITY"]``.
Its upstream client is the guarded one from ``SetupContext.http`` (gateway/upstream), so the
measured path is the production one: pinned base URL, timeouts, size cap, breaker.

* ``bench_lookup``: the policy caches it (the cached-call throughput, single-flight figures);
* ``bench_fetch``: the policy does not cache it (every call reaches the stub: latency figure).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from gateway.capability import Capability, Resources, SetupContext, ToolContext, UntrustedText, tool
from gateway.errors import UpstreamError

__all__ = ["CAPABILITY", "BenchClient", "BenchConfig"]


class BenchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upstream: str = Field("benchstub", min_length=1, max_length=64)


class ItemArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z0-9-]{1,40}$", description="Item key")
    delay_ms: int = Field(0, ge=0, le=1000, description="Upstream delay to simulate")


class ItemResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    value: UntrustedText
    served_by: str


class BenchClient:
    """All upstream HTTP of the capability."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def item(self, key: str, delay_ms: int) -> ItemResult:
        response = await self._http.get(f"/item/{key}", params={"delay_ms": delay_ms})
        if response.status_code != 200:
            raise UpstreamError("benchstub", internal=f"HTTP {response.status_code}")
        data: Any = response.json()
        if not isinstance(data, dict):
            raise UpstreamError("benchstub", internal="item is not an object")
        return ItemResult(
            key=str(data.get("key", "")),
            value=str(data.get("value", ""))[:200],
            served_by=str(data.get("served_by", "")),
        )


@tool("bench_lookup", title="Look an item up (cacheable)", output=ItemResult, upstream="benchstub")
async def lookup(args: ItemArgs, ctx: ToolContext) -> ItemResult:
    """Fetch one item from the stub; the bench policy caches this tool."""
    return await ctx.client(BenchClient).item(args.key, args.delay_ms)


@tool("bench_fetch", title="Fetch an item (uncached)", output=ItemResult, upstream="benchstub")
async def fetch(args: ItemArgs, ctx: ToolContext) -> ItemResult:
    """Fetch one item from the stub on every call."""
    return await ctx.client(BenchClient).item(args.key, args.delay_ms)


async def _setup(ctx: SetupContext) -> Resources:
    config = ctx.config
    if not isinstance(config, BenchConfig):
        raise TypeError("bench: setup needs a BenchConfig")
    return Resources(clients={BenchClient: BenchClient(ctx.http(config.upstream))})


CAPABILITY = Capability(
    name="bench",
    title="Bench",
    description="Items from a local stub, for the performance harness only.",
    tools=(lookup, fetch),
    config_model=BenchConfig,
    setup=_setup,
)
