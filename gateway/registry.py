"""The capabilities this gateway knows: the built-ins, listed here, plus opt-in extras.

Nothing is enabled because a package happens to be installed: an extra capability loads only
when ``extra_capabilities`` names it (``module:ATTRIBUTE``). Knowing a capability does not turn
it on: a capability without a policy file has no tool anyone can list or call.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from gateway.capability import Capability, Tool
from gateway.errors import ConfigError

__all__ = ["BUILTIN", "Registry", "builtin_capabilities", "load_registry"]

#: Built-in capability modules, in the order tools are listed.
BUILTIN: tuple[str, ...] = (
    "capabilities.astro",
    "capabilities.health",
    "capabilities.documents",
)


class Registry(Mapping[str, Capability]):
    """Capabilities by name, with a tool-name index."""

    def __init__(self, capabilities: Iterable[Capability]) -> None:
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


def load_registry(extra: Iterable[str] = (), *, include: Iterable[Capability] = ()) -> Registry:
    """The built-ins, then ``include`` (tests, declarative), then the named extras."""
    return Registry([*builtin_capabilities(), *include, *(_load(s) for s in extra)])
