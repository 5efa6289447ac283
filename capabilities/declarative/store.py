"""``DeclarativeStore``: the tool definitions in force, loaded and reloaded like policies.

Only a fully valid directory replaces the current definitions (one reference swap); an invalid
edit keeps the last good set and is remembered in ``last_error``. Tool objects are built once,
at start, because the registry, OpenAPI document and MCP tool list are built from them. So a
reload may change what a tool *does* (path, static query, projection, caps, status meanings)
but not what it *is* (its name, title, description, upstream, arguments, fields, shape):
adding, removing or reshaping a tool is refused by reload and takes a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from gateway.capability import Capability, Resources, SetupContext, SourceContext
from gateway.errors import ConfigError

from .client import DeclarativeClient
from .loader import SUFFIX, DeclarativeError, Definitions, load_definitions
from .sample import sample_transports
from .schemas import DeclarativeConfig, DeclarativeScope, ToolDef
from .tools import build_models, make_tool

__all__ = ["CAPABILITY_NAME", "DeclarativeStore", "StoreReload", "tool_source"]

log = logging.getLogger(__name__)

CAPABILITY_NAME = "declarative"
DEBOUNCE_MS = 150


@dataclass(frozen=True, slots=True)
class StoreReload:
    ok: bool
    #: ``file:line: message`` of the first problem; ``None`` when ok.
    error: str | None
    #: Names of the tools whose definition changed.
    changed: tuple[str, ...] = ()


def _interface(defn: ToolDef) -> tuple[object, ...]:
    return (
        defn.title,
        defn.description,
        defn.upstream,
        defn.args,
        defn.fields,
        defn.response.shape,
    )


class DeclarativeStore:
    def __init__(
        self,
        directory: Path,
        upstream_names: Collection[str] | None,
        *,
        on_reload: Callable[[StoreReload], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._upstreams = None if upstream_names is None else frozenset(upstream_names)
        self._on_reload = on_reload
        self._current: Definitions = load_definitions(self.directory, self._upstreams)
        self.last_error: str | None = None
        self.reload_failures = 0
        tools = []
        for defn in self._current.tools.values():
            tools.append(make_tool(defn, build_models(defn), self.definition))
        self.capability = Capability(
            name=CAPABILITY_NAME,
            title="Lab services (declarative)",
            description=(
                "Small read-only windows into lab services (Home Assistant, Frigate, Proxmox, "
                "Gitea, ...), each defined by one YAML file."
            ),
            tools=tuple(tools),
            config_model=DeclarativeConfig,
            scope_model=DeclarativeScope,
            setup=self.setup,
            tool_source=tool_source,
        )

    def listen(self, on_reload: Callable[[StoreReload], None]) -> None:
        """Who hears about reloads (the gateway audits and counts them)."""
        self._on_reload = on_reload

    def definition(self, name: str) -> ToolDef:
        """The definition in force for tool ``name``."""
        return self._current.tools[name]

    def upstreams(self) -> tuple[str, ...]:
        return tuple(sorted({d.upstream for d in self._current.tools.values()}))

    def reload(self) -> StoreReload:
        """Load the directory again; swap it in only when valid and interface-compatible."""
        old = self._current
        try:
            new = load_definitions(self.directory, self._upstreams)
            if set(new.tools) != set(old.tools):
                added = sorted(set(new.tools) - set(old.tools))
                gone = sorted(set(old.tools) - set(new.tools))
                raise DeclarativeError(
                    f"tools added {added} or removed {gone}: that takes a restart"
                )
            for name, defn in new.tools.items():
                if _interface(defn) != _interface(old.tools[name]):
                    raise DeclarativeError(
                        f"tool {name}: title, description, upstream, args, fields or shape "
                        "changed: that takes a restart",
                        file=str(new.files[name]),
                        line=1,
                    )
        except DeclarativeError as exc:
            self.reload_failures += 1
            self.last_error = str(exc)
            log.warning("declarative tools reload refused, last good set kept: %s", exc)
            return self._notify(StoreReload(False, str(exc)))
        changed = tuple(sorted(n for n in new.tools if new.tools[n] != old.tools[n]))
        self._current = new
        self.last_error = None
        return self._notify(StoreReload(True, None, changed))

    def _notify(self, event: StoreReload) -> StoreReload:
        if self._on_reload is not None:
            try:
                self._on_reload(event)
            except Exception:
                log.exception("declarative reload callback failed")
        return event

    async def watch(self, stop_event: asyncio.Event | None = None) -> None:
        """Reload on every change of a tool file, until ``stop_event`` is set."""
        async for changes in watchfiles.awatch(
            self.directory, debounce=DEBOUNCE_MS, stop_event=stop_event, recursive=False
        ):
            if any(Path(p).name.endswith(SUFFIX) for _, p in changes):
                self.reload()

    async def setup(self, ctx: SetupContext[DeclarativeConfig]) -> Resources:
        config = ctx.config
        if config.directory is not None and config.directory.resolve() != self.directory.resolve():
            raise ConfigError(
                "capabilities.declarative.directory differs from the directory the tools "
                "were loaded from; build the registry with load_declarative(directory)",
                key="capabilities.declarative.directory",
            )
        if ctx.sample:  # the clients belong to the gateway, which closes them
            transports = sample_transports(self._current)
            http = {name: ctx.sample_http(t) for name, t in transports.items()}
        else:
            http = {name: ctx.http(name) for name in self.upstreams()}
        return Resources(clients={DeclarativeClient: DeclarativeClient(http)})


def tool_source(
    config: DeclarativeConfig | None, context: SourceContext
) -> DeclarativeStore | None:
    """The operator's own tool directory (``capabilities.declarative.directory``), loaded
    all-or-nothing, as the source the registry uses instead of the shipped examples."""
    if config is None or config.directory is None:
        return None
    try:
        return DeclarativeStore(config.directory, set(context.upstream_names))
    except DeclarativeError as exc:
        raise ConfigError(
            f"declarative tools not loadable: {exc}", key="capabilities.declarative.directory"
        ) from None
