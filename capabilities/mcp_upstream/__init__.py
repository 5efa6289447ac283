"""mcp_upstream: the lab's own MCP servers, fronted under labgate's policies.

``CAPABILITY`` holds the configuration (``capabilities.mcp_upstream``) and has no tools; each
configured server becomes a capability of its own, built by :func:`build_fronted` from the
server's pins (``<server>.pins.json`` beside the policy) when the registry is built.
"""

from __future__ import annotations

from gateway.capability import Capability

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

CAPABILITY = Capability(
    name=CAPABILITY_NAME,
    title="Fronted MCP servers",
    description=(
        "The configuration of the lab's MCP servers labgate fronts; each server's tools form "
        "a capability named after the server."
    ),
    tools=(),
    config_model=McpUpstreamConfig,
)
