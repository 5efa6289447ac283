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
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from gateway.settings import Settings

__all__ = [
    "BUILTIN",
    "Registry",
    "Reloadable",
    "builtin_capabilities",
    "load_registry",
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


def load_registry(
    extra: Iterable[str] = (),
    *,
    include: Iterable[Capability] = (),
    declarative_dir: Path | None = None,
    upstream_names: Iterable[str] = (),
) -> Registry:
    """The built-ins, then ``include`` (tests), then the named extras.

    With ``declarative_dir`` the declarative capability is built from the operator's directory
    (and reloads) instead of the shipped examples.
    """
    caps = builtin_capabilities()
    reloadable: list[Reloadable] = []
    if declarative_dir is not None:
        own, store = _declarative(declarative_dir, upstream_names)
        caps = [own if c.name == own.name else c for c in caps]
        reloadable.append(store)
    return Registry([*caps, *include, *(_load(s) for s in extra)], reloadable)


def registry_for(settings: Settings) -> Registry:
    """The registry a deployment's settings describe."""
    section = settings.capabilities.get("declarative", {})
    directory = section.get("directory") if isinstance(section, dict) else None
    return load_registry(
        settings.extra_capabilities,
        declarative_dir=Path(directory) if directory else None,
        upstream_names=settings.upstreams,
    )
