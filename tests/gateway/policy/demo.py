"""A tiny capability for policy tests: ``demo`` (two tools, a scope model) and ``extra``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.capability import Capability, ToolContext, tool

__all__ = ["DEMO", "EXTRA", "registry"]


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EchoArgs(_Forbid):
    text: str = Field("", max_length=500)
    count: int = Field(1, ge=1, le=100)


class EchoOut(_Forbid):
    text: str
    count: int


class ListArgs(_Forbid):
    page_size: int = Field(10, ge=1, le=50)
    unit: Literal["a", "b", "c"] | None = None
    tags: list[str] = Field(default_factory=list)
    ratio: float | None = None


class Item(_Forbid):
    id: int
    title: str
    secret: str


class ListOut(_Forbid):
    items: list[Item]
    next_cursor: str | None = None


class DemoScope(_Forbid):
    allowed_prefixes: list[str]


@tool("demo_echo", title="Echo", output=EchoOut)
async def demo_echo(args: EchoArgs, ctx: ToolContext) -> EchoOut:
    """Echo the text."""
    return EchoOut(text=args.text, count=args.count)


@tool("demo_list", title="List", output=ListOut)
async def demo_list(args: ListArgs, ctx: ToolContext) -> ListOut:
    """List items."""
    return ListOut(items=[Item(id=1, title="one", secret="s")])


class PingArgs(_Forbid):
    pass


class PingOut(_Forbid):
    ok: bool


@tool("extra_ping", title="Ping", output=PingOut)
async def extra_ping(args: PingArgs, ctx: ToolContext) -> PingOut:
    """Ping."""
    return PingOut(ok=True)


DEMO = Capability(
    name="demo",
    title="Demo",
    description="Test capability.",
    tools=(demo_echo, demo_list),
    scope_model=DemoScope,
)
EXTRA = Capability(name="extra", title="Extra", description="No scope.", tools=(extra_ping,))


def registry() -> dict[str, Capability]:
    return {"demo": DEMO, "extra": EXTRA}
