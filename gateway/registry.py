"""The capabilities this gateway knows: the built-ins, listed here, plus opt-in extras.

Nothing is enabled because a package happens to be installed: an extra capability loads only
when ``extra_capabilities`` names it (``module:ATTRIBUTE``). Knowing a capability does not turn
it on: a capability without a policy file has no tool anyone can list or call.

The registry names no capability: one whose tools live in operator files offers a
``tool_source`` hook; given its config section it returns the source whose capability takes
the built-in's place and which reloads (SIGHUP, file watch, ``/ops/reload``).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gateway.capability import Capability, Reloadable, Tool, ToolSource
from gateway.errors import ConfigError, PolicyError

if TYPE_CHECKING:
    from gateway.settings import Settings

__all__ = [
    "BUILTIN",
    "Registry",
    "Reloadable",
    "builtin_capabilities",
    "load_registry",
    "mcp_upstream_command",
    "registry_for",
]

#: Built-in capability modules, in the order tools are listed.
BUILTIN: tuple[str, ...] = (
    "capabilities.astro",
    "capabilities.health",
    "capabilities.documents",
    "capabilities.declarative",
)


class Registry(Mapping[str, Capability[Any, Any]]):
    """Capabilities by name, with a tool-name index."""

    def __init__(
        self, capabilities: Iterable[Capability[Any, Any]], reloadable: Iterable[Reloadable] = ()
    ) -> None:
        #: Sources of tool definitions that reload like policies (all-or-nothing).
        self.reloadable = list(reloadable)
        self._caps: dict[str, Capability[Any, Any]] = {}
        self._tools: dict[str, tuple[Capability[Any, Any], Tool[Any, Any]]] = {}
        for cap in capabilities:
            if cap.name in self._caps:
                raise ConfigError(f"capability {cap.name!r} is registered twice")
            self._caps[cap.name] = cap
            for t in cap.tools:
                if t.name in self._tools:
                    raise ConfigError(f"tool {t.name!r} is defined by two capabilities")
                self._tools[t.name] = (cap, t)

    def __getitem__(self, name: str) -> Capability[Any, Any]:
        return self._caps[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._caps)

    def __len__(self) -> int:
        return len(self._caps)

    def find_tool(self, name: str) -> tuple[Capability[Any, Any], Tool[Any, Any]] | None:
        return self._tools.get(name)

    def all_tools(self) -> list[tuple[Capability[Any, Any], Tool[Any, Any]]]:
        return list(self._tools.values())


def _load(spec: str) -> Capability[Any, Any]:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        cap = getattr(module, attr or "CAPABILITY")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot load capability {spec!r}: {exc}", key="extra_capabilities"
        ) from None
    if not isinstance(cap, Capability):
        raise ConfigError(f"{spec!r} is not a Capability", key="extra_capabilities")
    return cap


def builtin_capabilities() -> list[Capability[Any, Any]]:
    return [_load(m) for m in BUILTIN]


def _config(cap: Capability[Any, Any], section: object) -> Any:
    try:
        return cap.config_model.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        key = f"capabilities.{cap.name}" + (f".{loc}" if loc else "")
        raise ConfigError(f"invalid setting {key}: {first['msg']}", key=key) from None


def _sourced(
    caps: list[Capability[Any, Any]],
    sections: Mapping[str, object],
    upstream_names: Collection[str],
) -> tuple[list[Capability[Any, Any]], list[ToolSource]]:
    """Each capability with a ``tool_source`` hook and a config section, replaced by the
    capability of its source (loaded now, all-or-nothing; a ``ConfigError`` stops start)."""
    out: list[Capability[Any, Any]] = []
    sources: list[ToolSource] = []
    for cap in caps:
        section = sections.get(cap.name)
        source = None
        if cap.tool_source is not None and section is not None:
            source = cap.tool_source(_config(cap, section), upstream_names)
        if source is None:
            out.append(cap)
            continue
        if source.capability.name != cap.name:
            raise ConfigError(f"the tool source of {cap.name!r} names another capability")
        out.append(source.capability)
        sources.append(source)
    return out, sources


def _fronted(
    section: Mapping[str, Any], pins_dir: Path
) -> tuple[list[Capability[Any, Any]], list[Reloadable]]:
    """The fronted MCP servers: the ``mcp_upstream`` capability (configuration only), then
    one capability per server, built from its pins (never by contacting the server)."""
    from capabilities.mcp_upstream import CAPABILITY, build_fronted

    try:
        fronted = build_fronted(section, pins_dir)
    except PolicyError as exc:
        raise ConfigError(f"fronted MCP servers not loadable: {exc}", key="mcp_upstream") from None
    return [CAPABILITY, *fronted.capabilities], list(fronted.servers)


def mcp_upstream_command(
    section: Mapping[str, Any], action: str, server: str, pins_dir: Path
) -> int:
    """``labgate mcp-upstream diff|accept SERVER`` (see capabilities/mcp_upstream/command.py)."""
    from capabilities.mcp_upstream.command import run

    return run(dict(section), action, server, pins_dir)


def load_registry(
    extra: Iterable[str] = (),
    *,
    include: Iterable[Capability[Any, Any]] = (),
    sections: Mapping[str, object] | None = None,
    upstream_names: Collection[str] = (),
    pins_dir: Path = Path("policies"),
) -> Registry:
    """The built-ins, then ``include`` (tests), then the named extras.

    ``sections``: the ``capabilities`` settings; a capability with a ``tool_source`` hook
    loads its tools from what its section names (and reloads) instead of its own. With an
    ``mcp_upstream`` section each fronted MCP server is a capability, its tools read from
    ``<pins_dir>/<server>.pins.json``.
    """
    sections = sections or {}
    caps = [*builtin_capabilities(), *include, *(_load(s) for s in extra)]
    caps, sourced = _sourced(caps, sections, upstream_names)
    sources: list[Reloadable] = list(sourced)
    fronted_section = sections.get("mcp_upstream")
    if isinstance(fronted_section, Mapping):
        fronted, servers = _fronted(fronted_section, pins_dir)
        caps.extend(fronted)
        sources.extend(servers)
    return Registry(caps, sources)


def registry_for(settings: Settings, policy_dir: Path | None = None) -> Registry:
    """The registry a deployment's settings describe; fronted MCP servers' pins are read from
    ``policy_dir`` (default: the configured policy directory)."""
    return load_registry(
        settings.extra_capabilities,
        sections=settings.capabilities,
        upstream_names=tuple(settings.upstreams),
        pins_dir=policy_dir if policy_dir is not None else settings.policy_dir,
    )
