"""A tiny capability for the core's tests: no upstream, observable behaviour."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from gateway.capability import Capability, Resources, SetupContext, ToolContext, UntrustedText, tool
from gateway.errors import Denied, NotFound, UpstreamUnavailable


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EchoArgs(_Args):
    text: str = Field(min_length=1, max_length=200, description="Text to echo back")
    count: int = Field(1, ge=1, le=50, description="How many times")


class EchoResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: UntrustedText
    count: int
    who: str


class ListArgs(_Args):
    page_size: int = Field(10, ge=1, le=100, description="Items to return")
    prefix: str | None = Field(None, max_length=20, description="Only ids with this prefix")


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: UntrustedText
    secret: str
    body: UntrustedText


class ListResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Item]
    next_cursor: str | None = None
    partial: bool = False


class SlowArgs(_Args):
    seconds: float = Field(0.1, ge=0, le=60, description="How long to take")
    key: str = Field("k", max_length=20, description="Cache key part")


class SlowResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runs: int


class FailArgs(_Args):
    kind: str = Field("unavailable", max_length=20, description="unavailable|notfound|crash|scope")


class TestScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed_prefixes: list[str] = Field(default_factory=list)


class TestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: int = Field(30, ge=0, le=10_000)


@dataclass
class Counter:
    runs: int = 0
    seen_scopes: list[object] = field(default_factory=list)


@tool("testcap_echo", title="Echo", output=EchoResult)
async def echo(args: EchoArgs, ctx: ToolContext) -> EchoResult:
    """Echo the text back."""
    return EchoResult(text=args.text * args.count, count=args.count, who=ctx.principal.sub)


@tool("testcap_list", title="List items", output=ListResult, upstream="memory")
async def list_items(args: ListArgs, ctx: ToolContext) -> ListResult:
    """List items, within the scope's prefixes."""
    cfg = ctx.config
    assert isinstance(cfg, TestConfig)
    prefixes = ctx.scope.allowed_prefixes if isinstance(ctx.scope, TestScope) else None
    items = []
    for i in range(cfg.items):
        ident = f"{'ab'[i % 2]}{i:03d}"
        if prefixes is not None and not any(ident.startswith(p) for p in prefixes):
            continue
        if args.prefix and not ident.startswith(args.prefix):
            continue
        items.append(Item(id=ident, title=f"Item {i}", secret=f"s3cr3t-{i}", body="x" * 500))
    return ListResult(items=items[: args.page_size], partial=len(items) > args.page_size)


@tool("testcap_slow", title="Slow", output=SlowResult)
async def slow(args: SlowArgs, ctx: ToolContext) -> SlowResult:
    """Sleep, then count how often the handler ran."""
    counter = ctx.client(Counter)
    counter.runs += 1
    runs = counter.runs
    await asyncio.sleep(args.seconds)
    return SlowResult(runs=runs)


@tool("testcap_fail", title="Fail", output=SlowResult)
async def fail(args: FailArgs, ctx: ToolContext) -> SlowResult:
    """Fail in the requested way."""
    if args.kind == "notfound":
        raise NotFound()
    if args.kind == "scope":
        ctx.notes["scope_violation"] = "prefix-not-allowed"
        raise Denied("This item is not permitted by policy.", internal="prefix b is out of scope")
    if args.kind == "crash":
        raise RuntimeError("Traceback secret=hunter2 upstream body <html>")
    raise UpstreamUnavailable("memory", internal="connection refused to 10.0.0.5:8086")


async def _setup(ctx: SetupContext) -> Resources:
    return Resources(clients={Counter: Counter()})


CAPABILITY = Capability(
    name="testcap",
    title="Test capability",
    description="Tools with known behaviour for the core's tests.",
    tools=(echo, list_items, slow, fail),
    config_model=TestConfig,
    scope_model=TestScope,
    setup=_setup,
)
