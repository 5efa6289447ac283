"""Building the capabilities of the configured servers: one capability per server.

Each fronted server is a capability of its own, named after the server: its tools are
``<server>_<tool>``, its policy is ``policies/<server>.yaml`` (no policy file: off, and not even
connected), its pins are ``<server>.pins.json`` beside the policy. The ``mcp_upstream``
capability itself has no tools; it holds the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.capability import Capability, DoctorContext, DoctorReport, Resources, SetupContext
from gateway.errors import ConfigError, PolicyError

from .client import secret_values
from .doctor import probe
from .models import Unfrontable
from .naming import labgate_name
from .pins import PinSet, load_pins, pins_path
from .schemas import McpUpstreamConfig, ServerConfig
from .server import FrontedServer
from .tools import make_tool

__all__ = ["CAPABILITY_NAME", "Fronted", "build_fronted", "parse_config"]

CAPABILITY_NAME = "mcp_upstream"
#: Longest wait at start-up for a server's first tool listing (it keeps trying afterwards).
FIRST_LISTING_MAX = 10.0


def parse_config(section: Mapping[str, Any]) -> McpUpstreamConfig:
    try:
        return McpUpstreamConfig.model_validate(dict(section))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        key = f"capabilities.{CAPABILITY_NAME}" + (f".{loc}" if loc else "")
        raise ConfigError(f"invalid setting {key}: {first['msg']}", key=key) from None


def _check_pins(name: str, pins: PinSet, file: Path) -> None:
    for tool, pin in pins.tools.items():
        if labgate_name(name, pin.upstream_name) != tool:
            raise PolicyError(
                f"pin {tool}: upstream tool {pin.upstream_name!r} is named "
                f"{labgate_name(name, pin.upstream_name)} here; accept the server again",
                file=str(file),
                line=1,
            )


def _capability(fronted: FrontedServer) -> Capability:
    tools = []
    for pin in fronted.built.tools.values():
        try:
            tools.append(make_tool(fronted, pin))
        except Unfrontable as exc:
            raise PolicyError(
                f"pin {pin.tool}: cannot be fronted: {exc}", file=str(fronted.pins_file), line=1
            ) from None
    transport = fronted.config.transport

    async def setup(ctx: SetupContext) -> Resources:
        secrets = secret_values(fronted.name, fronted.config)
        if ctx.sample:  # demo: no lab, nothing to connect to; every tool stays unavailable
            return Resources(clients={FrontedServer: fronted}, secrets=secrets)
        first = min(fronted.config.connect_timeout, FIRST_LISTING_MAX)
        await fronted.start(first)
        return Resources(clients={FrontedServer: fronted}, close=fronted.stop, secrets=secrets)

    async def doctor(ctx: DoctorContext) -> DoctorReport:
        return await probe(fronted)

    return Capability(
        name=fronted.name,
        title=f"MCP server {fronted.name} (fronted, {transport})",
        description=(
            f"Tools of the lab's MCP server {fronted.name!r}, fronted by labgate under its "
            "policy, with their definitions pinned in Git."
        ),
        tools=tuple(tools),
        setup=setup,
        doctor=doctor,
        available=fronted.available,
    )


class Fronted:
    """The configured servers: their capabilities and their reloadable pin sources."""

    def __init__(self, config: McpUpstreamConfig, pins_dir: Path) -> None:
        self.config = config
        self.pins_dir = Path(config.pins_dir) if config.pins_dir is not None else Path(pins_dir)
        self.servers: list[FrontedServer] = []
        for name, server in config.servers.items():
            self.servers.append(self._server(name, server))
        self.capabilities = [_capability(s) for s in self.servers]

    def _server(self, name: str, server: ServerConfig) -> FrontedServer:
        file = pins_path(self.pins_dir, name)
        pins = load_pins(file, name)
        _check_pins(name, pins, file)
        return FrontedServer(name, server, file, pins)


def build_fronted(section: Mapping[str, Any], pins_dir: Path) -> Fronted:
    """The fronted servers of ``capabilities.mcp_upstream``; pins are read from ``pins_dir``
    unless the section names its own. :class:`ConfigError` / :class:`PolicyError` on a
    problem (a pin that cannot be fronted is one: nothing is ever half loaded)."""
    return Fronted(parse_config(section), pins_dir)
