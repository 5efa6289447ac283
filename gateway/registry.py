"""The capabilities this gateway knows: the built-ins, listed here, plus opt-in extras.

Nothing is enabled because a package happens to be installed: an extra capability loads only
when ``extra_capabilities`` names it (``module:ATTRIBUTE``). Knowing a capability does not turn
it on: a capability without a policy file has no tool anyone can list or call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gateway.capability import Capability, Tool
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


class Reloadable(Protocol):
    """A capability whose definitions live in operator files (declarative tools)."""

    last_error: str | None

    def reload(self) -> Any: ...

    async def watch(self) -> None: ...

    def listen(self, on_reload: Callable[[Any], None]) -> None: ...


class Registry(Mapping[str, Capability]):
    """Capabilities by name, with a tool-name index."""

    def __init__(
        self, capabilities: Iterable[Capability], reloadable: Iterable[Reloadable] = ()
    ) -> None:
        #: Sources of tool definitions that reload like policies (all-or-nothing).
        self.reloadable = list(reloadable)
        self._caps: dict[str, Capability] = {}
        self._tools: dict[str, tuple[Capability, Tool[Any, Any]]] = {}
        for cap in capabilities:
            if cap.name in self._caps:
                raise ConfigError(f"capability {cap.name!r} is registered twice")
            self._caps[cap.name] = cap
            for t in cap.tools:
                if t.name in self._tools:
                    raise ConfigError(f"tool {t.name!r} is defined by two capabilities")
                self._tools[t.name] = (cap, t)

    def __getitem__(self, name: str) -> Capability:
        return self._caps[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._caps)

    def __len__(self) -> int:
        return len(self._caps)

    def find_tool(self, name: str) -> tuple[Capability, Tool[Any, Any]] | None:
        return self._tools.get(name)

    def all_tools(self) -> list[tuple[Capability, Tool[Any, Any]]]:
        return list(self._tools.values())


def _load(spec: str) -> Capability:
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


def builtin_capabilities() -> list[Capability]:
    return [_load(m) for m in BUILTIN]


def _declarative(directory: Path, upstream_names: Iterable[str]) -> tuple[Capability, Reloadable]:
    """The operator's own declarative tool directory, loaded all-or-nothing."""
    from capabilities.declarative import DeclarativeError, DeclarativeStore

    try:
        store = DeclarativeStore(directory, set(upstream_names))
        return store.capability, store
    except DeclarativeError as exc:
        key = "capabilities.declarative.directory"
        raise ConfigError(f"declarative tools not loadable: {exc}", key=key) from None


def _fronted(
    section: Mapping[str, Any], pins_dir: Path
) -> tuple[list[Capability], list[Reloadable]]:
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
    include: Iterable[Capability] = (),
    declarative_dir: Path | None = None,
    upstream_names: Iterable[str] = (),
    mcp_upstream: Mapping[str, Any] | None = None,
    pins_dir: Path = Path("policies"),
) -> Registry:
    """The built-ins, then ``include`` (tests), then the named extras.

    With ``declarative_dir`` the declarative capability is built from the operator's directory
    (and reloads) instead of the shipped examples. With ``mcp_upstream`` (the settings section)
    each fronted MCP server is a capability, its tools read from ``<pins_dir>/<server>.pins.json``.
    """
    caps = builtin_capabilities()
    reloadable: list[Reloadable] = []
    if declarative_dir is not None:
        own, store = _declarative(declarative_dir, upstream_names)
        caps = [own if c.name == own.name else c for c in caps]
        reloadable.append(store)
    if mcp_upstream is not None:
        fronted, servers = _fronted(mcp_upstream, pins_dir)
        caps.extend(fronted)
        reloadable.extend(servers)
    return Registry([*caps, *include, *(_load(s) for s in extra)], reloadable)


def registry_for(settings: Settings, policy_dir: Path | None = None) -> Registry:
    """The registry a deployment's settings describe; fronted MCP servers' pins are read from
    ``policy_dir`` (default: the configured policy directory)."""
    section = settings.capabilities.get("declarative", {})
    directory = section.get("directory") if isinstance(section, dict) else None
    fronted = settings.capabilities.get("mcp_upstream")
    return load_registry(
        settings.extra_capabilities,
        declarative_dir=Path(directory) if directory else None,
        upstream_names=settings.upstreams,
        mcp_upstream=fronted if isinstance(fronted, dict) else None,
        pins_dir=policy_dir if policy_dir is not None else settings.policy_dir,
    )
