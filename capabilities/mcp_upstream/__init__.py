"""mcp_upstream: the lab's own MCP servers, fronted under labgate's policies.

``CAPABILITY`` holds the configuration (``capabilities.mcp_upstream``) and has no tools; each
configured server becomes a capability of its own, built by :func:`build_fronted` from the
server's pins (``<server>.pins.json`` beside the policy) when the registry is built (its
``tool_source`` hook). ``labgate mcp-upstream diff|accept`` is its ``command`` hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.capability import Capability, SourceContext, ToolSources
from gateway.errors import ConfigError, PolicyError

from .fronted import CAPABILITY_NAME, Fronted, build_fronted, parse_config
from .pins import Pin, PinSet, load_pins, pins_path, write_pins
from .schemas import HttpServer, McpUpstreamConfig, StdioServer
from .server import FrontedServer, PinEvent

__all__ = [
    "CAPABILITY",
    "CAPABILITY_NAME",
    "Fronted",
    "FrontedServer",
    "HttpServer",
    "McpUpstreamConfig",
    "Pin",
    "PinEvent",
    "PinSet",
    "StdioServer",
    "build_fronted",
    "load_pins",
    "parse_config",
    "pins_path",
    "write_pins",
]


def tool_source(config: McpUpstreamConfig | None, context: SourceContext) -> ToolSources:
    """No section: nothing fronted (the capability is left out); else this capability (the
    configuration) and one capability per server, built from its pins (never by contacting
    the server), each server reloading its pins."""
    if config is None:
        return ToolSources()
    try:
        fronted = Fronted(config, context.policy_dir)
    except PolicyError as exc:
        raise ConfigError(f"fronted MCP servers not loadable: {exc}", key="mcp_upstream") from None
    return ToolSources((CAPABILITY, *fronted.capabilities), tuple(fronted.servers))


def command(config: McpUpstreamConfig, policy_dir: Path, args: Sequence[str]) -> int:
    """``labgate mcp-upstream diff|accept SERVER`` (see :mod:`.command`)."""
    from .command import run

    action, server = args
    return run(config, action, server, policy_dir)


CAPABILITY = Capability(
    name=CAPABILITY_NAME,
    title="Fronted MCP servers",
    description=(
        "The configuration of the lab's MCP servers labgate fronts; each server's tools form "
        "a capability named after the server."
    ),
    tools=(),
    config_model=McpUpstreamConfig,
    tool_source=tool_source,
    command=command,
)
