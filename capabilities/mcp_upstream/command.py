"""``labgate mcp-upstream``: see what a fronted server offers, and accept it (write its pins).

    labgate mcp-upstream diff SERVER      what differs between the server's tools and the pins
    labgate mcp-upstream accept SERVER    pin the server's tools as they are now

``accept`` connects to the server once, lists its tools, and writes ``<server>.pins.json``
beside the policy (commit it). A tool whose arguments labgate cannot check is not pinned and
is said so. The running gateway reads the new pins on its own (file watch or SIGHUP); a pin
whose arguments changed takes a restart, like a declarative tool's.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from gateway.errors import ConfigError

from .client import LinkBroken, LinkDown, LinkSlow, LinkTooLarge, connect, devnull
from .fronted import parse_config
from .models import Unfrontable, args_model
from .naming import NameClash, labgate_names
from .pins import Pin, PinSet, load_pins, pins_path, write_pins
from .schemas import McpUpstreamConfig, ServerConfig
from .server import annotations_of, definition_diff, definition_of

__all__ = ["run"]


async def _nothing() -> None:
    return None


async def _listing(name: str, config: ServerConfig) -> list[Any]:
    with devnull() as errlog:
        async with connect(name, config, _nothing, errlog) as conn:
            return await conn.list_tools()


def _proposed(name: str, listed: list[Any], out: TextIO) -> PinSet:
    names = labgate_names(name, [t.name for t in listed])
    by_upstream = {t.name: t for t in listed}
    tools: dict[str, Pin] = {}
    for tool, upstream in sorted(names.items()):
        listed_tool = by_upstream[upstream]
        pin = Pin.from_definition(tool, definition_of(listed_tool), annotations_of(listed_tool))
        try:
            args_model(tool, pin.input_schema)
        except Unfrontable as exc:
            print(f"  skipped {upstream!r}: cannot be fronted ({exc})", file=out)
            continue
        if not (pin.annotations or {}).get("readOnlyHint"):
            print(f"  note: {tool} is not annotated read-only upstream", file=out)
        tools[tool] = pin
    return PinSet(name, tools)


def _report(old: PinSet, new: PinSet, out: TextIO) -> int:
    changes = 0
    for tool in sorted(set(old.tools) | set(new.tools)):
        before, after = old.tools.get(tool), new.tools.get(tool)
        if before is None and after is not None:
            print(f"+ {tool} (upstream {after.upstream_name!r})", file=out)
        elif after is None and before is not None:
            print(f"- {tool} (no longer listed)", file=out)
        elif before is not None and after is not None and before.sha256 != after.sha256:
            print(f"~ {tool} changed:", file=out)
            print(definition_diff(before.definition(), after.definition()), file=out)
        else:
            continue
        changes += 1
    return changes


def run(
    section: Mapping[str, Any] | McpUpstreamConfig,
    action: str,
    server: str,
    pins_dir: Path,
    out: TextIO | None = None,
) -> int:
    """``diff``: exit 1 when the server differs from its pins; ``accept``: write the pins."""
    out = out or sys.stdout
    config = section if isinstance(section, McpUpstreamConfig) else parse_config(section)
    if server not in config.servers:
        raise ConfigError(
            f"no MCP server {server!r} under capabilities.mcp_upstream.servers",
            key="capabilities.mcp_upstream.servers",
        )
    directory = Path(config.pins_dir) if config.pins_dir is not None else pins_dir
    path = pins_path(directory, server)
    old = load_pins(path, server)
    try:
        listed = asyncio.run(_listing(server, config.servers[server]))
    except (LinkDown, LinkSlow, LinkBroken, LinkTooLarge) as exc:
        print(f"labgate: MCP server {server} not usable: {exc}", file=sys.stderr)
        return 1
    try:
        new = _proposed(server, listed, out)
    except NameClash as exc:
        print(f"labgate: {exc}", file=sys.stderr)
        return 1
    changes = _report(old, new, out)
    if action == "diff":
        print(f"{changes} change(s) against {path}", file=out)
        return 1 if changes else 0
    write_pins(path, new)
    print(f"pinned {len(new.tools)} tool(s) of {server} in {path} ({changes} change(s))", file=out)
    return 0
