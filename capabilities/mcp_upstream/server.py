"""``FrontedServer``: one configured MCP server, its pins, its live tools, and its connection.

The tools labgate offers are built from the pins (what the operator accepted, in Git), never
from what the server lists today. The connection only decides whether a pinned tool is
*available*: it is when the server is connected and lists the tool with exactly the pinned
definition (same SHA-256). A tool the server changed (a "rug pull": a new description or
schema), stopped listing, or whose pin was changed in a way that needs a restart is withdrawn:
it disappears from every tool list and a call fails with ``upstream_unavailable``. Each change
of that verdict is logged with a diff of the definitions and reported (the gateway audits it).

A supervisor task per server connects, lists the tools, follows
``notifications/tools/list_changed``, and lists again every ``relist_seconds`` (its health
check too); on any failure it reconnects with backoff. One server's trouble never touches another's.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import mcp_types as types
import watchfiles

from gateway.errors import PolicyError

from .client import Connection, LinkBroken, LinkDown, LinkSlow, connect, devnull
from .naming import labgate_name
from .pins import PinSet, definition_digest, load_pins
from .schemas import ServerConfig

__all__ = [
    "FrontedServer",
    "PinEvent",
    "ToolState",
    "annotations_of",
    "definition_diff",
    "definition_of",
]

log = logging.getLogger("labgate.mcp_upstream")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
_DIFF_MAX = 2_000
DEBOUNCE_MS = 150

ToolState = Literal["ok", "changed", "missing", "restart", "down"]


def definition_of(tool: types.Tool) -> dict[str, Any]:
    """The pinned parts of a listed tool, as plain JSON."""
    return {
        "name": tool.name,
        "title": tool.title,
        "description": tool.description or "",
        "input_schema": tool.input_schema,
        "output_schema": tool.output_schema,
    }


def annotations_of(tool: types.Tool) -> dict[str, Any] | None:
    if tool.annotations is None:
        return None
    dumped: dict[str, Any] = tool.annotations.model_dump(by_alias=True, exclude_none=True)
    return dumped


@dataclass(frozen=True, slots=True)
class PinEvent:
    """A change in what this server offers (heard by the gateway, which audits it)."""

    ok: bool
    error: str | None
    source: str
    notes: dict[str, Any] = field(default_factory=dict)


def definition_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    a = json.dumps(old, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    b = json.dumps(new, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    text = "\n".join(difflib.unified_diff(a, b, "pinned", "live", n=0, lineterm=""))
    return text[:_DIFF_MAX]


def _leaves(exc: BaseException) -> str:
    """``ExceptionGroup(LinkDown: ...)`` -> ``LinkDown: ...`` (class names and our own texts)."""
    if isinstance(exc, BaseExceptionGroup):
        return ", ".join(_leaves(e) for e in exc.exceptions[:3])
    if isinstance(exc, LinkDown | LinkSlow | LinkBroken):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


class FrontedServer:
    """One fronted server: reloadable pins, supervised connection, per-tool availability."""

    def __init__(self, name: str, config: ServerConfig, pins_file: Path, built: PinSet) -> None:
        self.name = name
        self.config = config
        self.pins_file = pins_file
        #: The pins the tools were built from (their names, arguments and descriptions).
        self.built = built
        #: The pins in force now (a reload may change them).
        self.pins = built
        self.last_error: str | None = None
        self.connected = False
        self.protocol_version: str | None = None
        self.last_failure: str | None = None
        self._live: dict[str, dict[str, Any]] | None = None
        self._states: dict[str, ToolState] = {}
        self._connection: Connection | None = None
        self._relist = asyncio.Event()
        self._listed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._errlog: TextIO | None = None
        self._listeners: list[Callable[[PinEvent], None]] = []
        self._had_session = False
        self._unheard: list[PinEvent] = []

    # -- the Reloadable protocol (gateway/registry.py) --------------------------------------

    def listen(self, on_reload: Callable[[Any], None]) -> None:
        """Who hears about changes; what happened before anyone listened (the first listing,
        during start-up) is delivered now."""
        self._listeners.append(on_reload)
        unheard, self._unheard = self._unheard, []
        for event in unheard:
            self._emit(event)

    def reload(self) -> PinEvent:
        """Read the pins file again; a valid file replaces the pins in force."""
        try:
            pins = load_pins(self.pins_file, self.name)
        except PolicyError as exc:
            self.last_error = str(exc)
            log.error(
                "mcp_upstream %s: pins reload refused, last good pins kept: %s", self.name, exc
            )
            return self._emit(PinEvent(False, str(exc), self._source(), {"trigger": "pins"}))
        self.pins = pins
        self.last_error = None
        notes = self._evaluate()
        return self._emit(PinEvent(True, None, self._source(), {"trigger": "pins", **notes}))

    async def watch(self, stop_event: asyncio.Event | None = None) -> None:
        directory = self.pins_file.parent
        if not directory.is_dir():
            return
        async for changes in watchfiles.awatch(
            directory, debounce=DEBOUNCE_MS, stop_event=stop_event, recursive=False
        ):
            if any(Path(p).name == self.pins_file.name for _, p in changes):
                self.reload()

    # -- availability -----------------------------------------------------------------------

    def state(self, tool: str) -> ToolState:
        if not self.connected or self._live is None:
            return "down"
        return self._states.get(tool, "missing")

    def available(self, tool: str) -> bool:
        return self.state(tool) == "ok"

    def status(self) -> dict[str, Any]:
        """For ``/readyz`` (informational: a server's trouble never makes labgate unready)."""
        return {
            "source": self._source(),
            "connected": self.connected,
            "protocol": self.protocol_version,
            "last_failure": self.last_failure,
            "withdrawn": {t: self.state(t) for t in self.built.tools if not self.available(t)},
        }

    @property
    def connection(self) -> Connection | None:
        return self._connection if self.connected else None

    def _source(self) -> str:
        return f"mcp_upstream:{self.name}"

    def _emit(self, event: PinEvent) -> PinEvent:
        if not self._listeners:
            self._unheard = [*self._unheard[-9:], event]
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("mcp_upstream %s: listener failed", self.name)
        return event

    def _evaluate(self) -> dict[str, Any]:
        """Compare the live listing with the pins; return what changed (for log and audit)."""
        live = self._live or {}
        states: dict[str, ToolState] = {}
        diffs: dict[str, str] = {}
        for tool, built in self.built.tools.items():
            current = self.pins.tools.get(tool)
            definition = live.get(built.upstream_name)
            if current is None or current.input_schema != built.input_schema:
                states[tool] = "restart"  # its arguments are no longer what the tool was built on
            elif definition is None:
                states[tool] = "missing"
            elif definition_digest(definition) != current.sha256:
                states[tool] = "changed"
                diffs[tool] = definition_diff(current.definition(), definition)
            else:
                states[tool] = "ok"
        pinned = {p.upstream_name for p in self.pins.tools.values()}
        unpinned = sorted(
            labgate_name(self.name, upstream) for upstream in live if upstream not in pinned
        )
        before, self._states = self._states, states
        changed = {t: s for t, s in states.items() if before.get(t) != s}
        notes: dict[str, Any] = {}
        if changed:
            notes["tools"] = changed
        if diffs:
            notes["diff"] = {t: d for t, d in diffs.items() if t in changed}
        if unpinned:
            notes["unpinned"] = unpinned[:50]
        for tool, s in changed.items():
            if s == "ok":
                log.info("mcp_upstream %s: tool %s available", self.name, tool)
            else:
                log.warning(
                    "mcp_upstream %s: tool %s withdrawn (%s)%s",
                    self.name,
                    tool,
                    s,
                    "\n" + diffs[tool] if tool in diffs else "",
                )
        return notes

    def _listing(self, tools: list[types.Tool]) -> None:
        self._live = {t.name: definition_of(t) for t in tools}
        notes = self._evaluate()
        if notes.get("tools") or (notes.get("unpinned") and not self._listed.is_set()):
            withdrawn = any(s != "ok" for s in notes.get("tools", {}).values())
            error = "tool definitions differ from their pins" if withdrawn else None
            self._emit(PinEvent(not withdrawn, error, self._source(), {"trigger": "list", **notes}))
        self._listed.set()

    # -- the supervisor ---------------------------------------------------------------------

    async def start(self, first_listing_within: float) -> None:
        """Start the supervisor; wait (bounded) for the first listing so tools are ready."""
        self._errlog = devnull()
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"mcp-upstream-{self.name}"
        )
        try:
            async with asyncio.timeout(first_listing_within):
                await self._listed.wait()
        except TimeoutError:
            log.warning("mcp_upstream %s: not listed yet; retrying in the background", self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    async def _tools_changed(self) -> None:
        self._relist.set()

    def _down(self, why: str) -> None:
        if self.connected:
            log.warning("mcp_upstream %s: connection lost (%s)", self.name, why)
        self.connected = False
        self._connection = None
        self.last_failure = why

    async def _supervise(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            self._had_session = False
            try:
                await self._session()
            except (LinkDown, LinkSlow, LinkBroken) as exc:
                self._down(f"{type(exc).__name__}: {exc}")
            except (Exception, BaseExceptionGroup) as exc:
                # The SDK's task groups raise groups, some holding a cancellation of their
                # own: only this task's cancellation (shutdown) ends the loop.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                self._down(_leaves(exc))
                log.debug("mcp_upstream %s: session ended", self.name, exc_info=True)
            else:
                self._down("session ended")
            if self._had_session:
                backoff = BACKOFF_FIRST  # it worked until now: retry soon
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _session(self) -> None:
        assert self._errlog is not None
        async with connect(self.name, self.config, self._tools_changed, self._errlog) as conn:
            self._listing(await conn.list_tools())
            self._connection, self.connected = conn, True
            self._had_session = True
            self.protocol_version = conn.protocol_version
            self.last_failure = None
            log.info("mcp_upstream %s: connected (protocol %s)", self.name, conn.protocol_version)
            follower = asyncio.get_running_loop().create_task(
                conn.follow_changes(self._tools_changed), name=f"mcp-upstream-{self.name}-listen"
            )
            try:
                await self._relist_loop(conn)
            finally:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)

    async def _relist_loop(self, conn: Connection) -> None:
        """List again on a change notice, after a failing call, and every ``relist_seconds``
        (a listing is the health check too: ping is gone in the 2026 era)."""
        while True:
            try:
                async with asyncio.timeout(self.config.relist_seconds):
                    await self._relist.wait()
            except TimeoutError:
                pass
            self._relist.clear()
            self._listing(await conn.list_tools())

    def relist_soon(self) -> None:
        """A call saw the connection fail: check it now rather than at the next interval."""
        self._relist.set()
