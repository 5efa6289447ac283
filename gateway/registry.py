"""The capabilities this gateway knows: the built-ins, listed here, plus opt-in extras.

Nothing is enabled because a package happens to be installed: an extra capability loads only
when ``extra_capabilities`` names it (``module:ATTRIBUTE``). Knowing a capability does not turn
it on: a capability without a policy file has no tool anyone can list or call.

The registry names no capability: one whose tools live in operator files offers a
``tool_source`` hook; given its config section (and the upstream names and the policy
directory) it returns the source whose capability takes the built-in's place and which reloads
(SIGHUP, file watch, ``/ops/reload``), or several capabilities and sources (fronted MCP
servers). A capability's own CLI subcommand is reached through its ``command`` hook.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gateway.capability import Capability, Reloadable, SourceContext, Tool, ToolSources
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from gateway.settings import Settings

__all__ = [
    "BUILTIN",
    "Registry",
    "Reloadable",
    "builtin_capabilities",
    "capability_command",
    "load_registry",
    "registry_for",
]

#: Built-in capability modules, in the order tools are listed.
BUILTIN: tuple[str, ...] = (
    "capabilities.astro",
    "capabilities.health",
    "capabilities.documents",
    "capabilities.declarative",
    "capabilities.mcp_upstream",
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
    caps: list[Capability[Any, Any]], sections: Mapping[str, object], context: SourceContext
) -> tuple[list[Capability[Any, Any]], list[Reloadable]]:
    """Each capability with a ``tool_source`` hook, replaced by what its source built (loaded
    now, all-or-nothing; a ``ConfigError`` stops start). Capabilities a source adds beside its
    own come after every registered one."""
    out: list[Capability[Any, Any]] = []
    added: list[Capability[Any, Any]] = []
    sources: list[Reloadable] = []
    for cap in caps:
        if cap.tool_source is None:
            out.append(cap)
            continue
        section = sections.get(cap.name)
        config = None if section is None else _config(cap, section)
        result = cap.tool_source(config, context)
        if result is None:
            out.append(cap)
            continue
        if not isinstance(result, ToolSources):
            if result.capability.name != cap.name:
                raise ConfigError(f"the tool source of {cap.name!r} names another capability")
            result = ToolSources((result.capability,), (result,))
        for built in result.capabilities:
            (out if built.name == cap.name else added).append(built)
        sources.extend(result.reloadable)
    return [*out, *added], sources


def capability_command(
    name: str, section: Mapping[str, Any], policy_dir: Path, args: Sequence[str]
) -> int:
    """``labgate <name> ARGS``: the ``command`` hook of built-in capability ``name``, given its
    validated ``section``."""
    cap = next((c for c in builtin_capabilities() if c.name == name), None)
    if cap is None or cap.command is None:
        raise ConfigError(f"capability {name!r} has no command")
    return cap.command(_config(cap, section), policy_dir, args)


def load_registry(
    extra: Iterable[str] = (),
    *,
    include: Iterable[Capability[Any, Any]] = (),
    sections: Mapping[str, object] | None = None,
    upstream_names: Collection[str] = (),
    policy_dir: Path = Path("policies"),
) -> Registry:
    """The built-ins, then ``include`` (tests), then the named extras.

    ``sections``: the ``capabilities`` settings; a capability with a ``tool_source`` hook
    loads its tools from what its section names (and from files beside the policies in
    ``policy_dir``, e.g. fronted MCP servers' pins) and reloads them, instead of its own.
    """
    caps = [*builtin_capabilities(), *include, *(_load(s) for s in extra)]
    context = SourceContext(upstream_names=tuple(upstream_names), policy_dir=Path(policy_dir))
    caps, sources = _sourced(caps, sections or {}, context)
    return Registry(caps, sources)


def registry_for(settings: Settings, policy_dir: Path | None = None) -> Registry:
    """The registry a deployment's settings describe; files that live beside the policies
    (fronted MCP servers' pins) are read from ``policy_dir`` (default: the configured one)."""
    return load_registry(
        settings.extra_capabilities,
        sections=settings.capabilities,
        upstream_names=tuple(settings.upstreams),
        policy_dir=policy_dir if policy_dir is not None else settings.policy_dir,
    )
