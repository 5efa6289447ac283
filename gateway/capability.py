"""The plug-in interface: what a capability is, what a tool is, what a tool gets at run time.

A capability is a folder under ``capabilities/`` whose ``__init__.py`` exports ``CAPABILITY``.
Capabilities import only this module and :mod:`gateway.errors` (an import-linter contract
in pyproject.toml keeps it so).

    class SearchArgs(BaseModel):
        model_config = ConfigDict(extra="forbid")
        query: str = Field(min_length=1, max_length=200)

    Ctx = ToolContext[DocumentsConfig, DocumentsScope]   # typed: no downcast in a tool

    @tool("documents_search", title="Search documents", output=SearchResult)
    async def search(args: SearchArgs, ctx: Ctx) -> SearchResult:
        return await ctx.client(PaperlessClient).search(args, scope=ctx.scope)

    CAPABILITY: Capability[DocumentsConfig, DocumentsScope] = Capability(
        name="documents", title="...", description="...",
        tools=(search,), config_model=DocumentsConfig, scope_model=DocumentsScope,
        setup=setup,                     # async (SetupContext[DocumentsConfig]) -> Resources
    )

What the gateway offers, so no capability re-implements it: guarded upstream clients and
clients over sample data (:class:`SetupContext`), sealed page cursors
(:meth:`ToolContext.seal_cursor`), a TTL cache with single-flight (:class:`SingleFlight`),
a hook for tools defined in operator files that reload (``Capability.tool_source``) and one
for a capability's own CLI subcommand (``Capability.command``).

Rules a tool follows: read-only; output root is an object (lists as ``{"items": [...],
"next_cursor": ...}``); free text that comes from an upstream is typed :data:`UntrustedText`;
errors are raised as :mod:`gateway.errors` types, never as upstream text.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, Protocol, get_type_hints

import httpx
from pydantic import BaseModel, Field
from typing_extensions import TypeVar

from gateway.cache import SingleFlight
from gateway.cursor import CursorCodec, CursorError
from gateway.errors import GatewayError, InvalidArguments, UpstreamTimeout, UpstreamUnavailable
from gateway.proposal import (
    Applier,
    ApplyContext,
    ApplyRefused,
    Draft,
    FieldChange,
    Proposals,
    ProposalState,
    Ticket,
)

__all__ = [
    "SAMPLE_BASE_URL",
    "UNTRUSTED_MARK",
    "Applier",
    "ApplyContext",
    "ApplyRefused",
    "Capability",
    "CursorCodec",
    "DoctorContext",
    "DoctorReport",
    "Draft",
    "FieldChange",
    "Finding",
    "Principal",
    "ProposalState",
    "Proposals",
    "Reloadable",
    "Resources",
    "SampleClients",
    "SetupContext",
    "SingleFlight",
    "SourceContext",
    "Ticket",
    "Tool",
    "ToolContext",
    "ToolSource",
    "ToolSources",
    "UntrustedText",
    "tool",
    "upstream_failure",
]

#: JSON Schema extension key that marks free text from an upstream.
UNTRUSTED_MARK = "x-untrusted"

#: A string that came from an upstream and is data, never instructions.
UntrustedText = Annotated[str, Field(json_schema_extra={UNTRUSTED_MARK: True})]

TOOL_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_TOOL_NAME = 40

#: Base URL of the clients over sample data (never resolved: the transport answers).
SAMPLE_BASE_URL = "http://sample.invalid"
#: What a bad cursor is answered with, unless the tool says it better.
BAD_CURSOR = "Invalid cursor; use next_cursor from the previous page with the same arguments."

ArgsT = TypeVar("ArgsT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)
#: A capability's config model and policy scope model (``Any`` where nobody says).
ConfigT = TypeVar("ConfigT", bound=BaseModel, default=Any)
ScopeT = TypeVar("ScopeT", bound=BaseModel, default=Any)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as established by authentication."""

    sub: str
    client_id: str | None = None
    username: str | None = None
    groups: tuple[str, ...] = ()
    entitlements: tuple[str, ...] = ()
    token_id: str | None = None
    issuer: str | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tool(Generic[ArgsT, OutT, ConfigT, ScopeT]):
    """One typed, read-only operation of a capability."""

    name: str
    title: str
    description: str
    args_model: type[ArgsT]
    output_model: type[OutT]
    handler: Callable[[ArgsT, ToolContext[ConfigT, ScopeT]], Awaitable[OutT]]
    #: Upstream name recorded in provenance and audit (``None`` when the tool needs none).
    upstream: str | None = None
    #: A write tool: it only proposes (see gateway/proposal.py); a rule allowing it needs
    #: ``approval``, and the capability's ``appliers`` holds what applies it once approved.
    proposes: bool = False

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name) or len(self.name) > MAX_TOOL_NAME:
            raise ValueError(f"tool name {self.name!r} must be snake_case, at most 40 chars")
        if self.args_model.model_config.get("extra") != "forbid":
            raise ValueError(f"{self.name}: args model must set extra='forbid'")

    @property
    def record_model(self) -> type[BaseModel]:
        """The model of one record: the item type of ``items`` when present, else the output."""
        items = self.output_model.model_fields.get("items")
        if items is not None:
            args = getattr(items.annotation, "__args__", ())
            if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
                return args[0]
        return self.output_model


def tool(
    name: str,
    *,
    title: str,
    output: type[OutT],
    upstream: str | None = None,
    description: str | None = None,
    proposes: bool = False,
) -> Callable[
    [Callable[[ArgsT, ToolContext[ConfigT, ScopeT]], Awaitable[OutT]]],
    Tool[ArgsT, OutT, ConfigT, ScopeT],
]:
    """Declare a tool; the args model is read from the handler's first parameter annotation,
    the config and scope types from its ``ToolContext[...]`` annotation."""

    def wrap(
        fn: Callable[[ArgsT, ToolContext[ConfigT, ScopeT]], Awaitable[OutT]],
    ) -> Tool[ArgsT, OutT, ConfigT, ScopeT]:
        first = next(iter(inspect.signature(fn).parameters))
        args_model: type[ArgsT] = get_type_hints(fn)[first]
        doc = inspect.cleandoc(fn.__doc__ or "").strip()
        return Tool(
            name=name,
            title=title,
            description=description or doc or title,
            args_model=args_model,
            output_model=output,
            handler=fn,
            upstream=upstream,
            proposes=proposes,
        )

    return wrap


@dataclass(slots=True)
class Resources:
    """What a capability's ``setup`` returns: its clients, keyed by class, and a closer."""

    clients: Mapping[type[Any], Any]
    close: Callable[[], Awaitable[None]] | None = None
    #: (label, value) of secrets the capability holds itself (not through ``http``): no
    #: result, message or cause leaves the gateway with one of them.
    secrets: Sequence[tuple[str, str]] = ()


class SampleClients:
    """``SetupContext.sample_http`` as the gateway serves it: makes clients on
    :data:`SAMPLE_BASE_URL` over a capability's sample transport, and closes them all."""

    def __init__(self) -> None:
        self._clients: list[httpx.AsyncClient] = []

    def __call__(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=SAMPLE_BASE_URL, transport=transport, follow_redirects=False
        )
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()


@dataclass(frozen=True, slots=True)
class SetupContext(Generic[ConfigT]):
    """Handed to ``Capability.setup`` once, in the app's lifespan."""

    #: The capability's validated config (an instance of ``Capability.config_model``).
    config: ConfigT
    #: Demo mode: build clients over the capability's sample data, never the network.
    sample: bool
    #: ``http(upstream_name)`` -> a guarded ``httpx.AsyncClient`` built by gateway/upstream.py
    #: (base URL pinned, no redirects, timeouts, size cap, breaker, credentials injected).
    http: Callable[[str], httpx.AsyncClient]
    #: ``sample_http(transport)`` -> a client on :data:`SAMPLE_BASE_URL` over the capability's
    #: sample transport (demo mode); the gateway owns it and closes it at shutdown.
    sample_http: Callable[[httpx.AsyncBaseTransport], httpx.AsyncClient] = field(
        default_factory=SampleClients
    )


#: Used when a context is built without a codec (tests); the pipeline passes the runtime's.
_PROCESS_CURSORS = CursorCodec()


@dataclass(slots=True)
class ToolContext(Generic[ConfigT, ScopeT]):
    """What a tool handler gets besides its arguments."""

    principal: Principal
    request_id: str
    now: datetime
    #: The matched rule's scope (an instance of ``Capability.scope_model``) or ``None``.
    scope: ScopeT | None
    config: ConfigT
    clients: Mapping[type[Any], Any]
    #: Notes the tool wants in the audit record (e.g. ``{"scope_dropped": 2}``); small, no secrets.
    notes: dict[str, Any] = field(default_factory=dict)
    #: True when the tool returned less than it found (truncation, item caps upstream).
    partial: bool = False
    #: The tool being run (cursors are bound to it).
    tool: str = ""
    #: The gateway's cursor key (see :meth:`seal_cursor`); the pipeline passes the runtime's.
    cursors: CursorCodec = field(default_factory=lambda: _PROCESS_CURSORS)
    #: Where proposing tools store their proposals; ``None`` when labgate keeps none.
    proposals: Proposals | None = None

    def client(self, cls: type[T]) -> T:
        try:
            return self.clients[cls]  # type: ignore[no-any-return]
        except KeyError:
            raise LookupError(f"no client of type {cls.__name__} was set up") from None

    def _bound(self) -> tuple[str, ...]:
        p = self.principal
        return (self.tool, p.issuer or "", p.sub)

    def seal_cursor(self, position: Mapping[str, Any]) -> str:
        """An opaque cursor for ``position`` (a small JSON object): only this gateway can
        mint one, and it opens only for this tool and this principal."""
        return self.cursors.seal(position, self._bound())

    def open_cursor(self, token: str, invalid: str = BAD_CURSOR) -> dict[str, Any]:
        """The position sealed in ``token``; :class:`InvalidArguments` (``invalid``) when it
        was forged, altered, or issued for another tool or principal."""
        try:
            return self.cursors.open(token, self._bound())
        except CursorError as exc:
            raise InvalidArguments(invalid, internal=f"cursor refused: {exc}") from None


class Reloadable(Protocol):
    """Definitions that live in operator files and reload like policies (all-or-nothing)."""

    last_error: str | None

    def reload(self) -> Any: ...

    async def watch(self) -> None: ...

    def listen(self, on_reload: Callable[[Any], None]) -> None: ...


class ToolSource(Reloadable, Protocol):
    """Tool definitions that live in operator files and reload (declarative tools)."""

    #: The capability built from the files (same name as the built-in it replaces).
    capability: Capability[Any, Any]


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a ``tool_source`` hook is given besides its config."""

    #: The configured upstreams' names.
    upstream_names: Collection[str]
    #: The directory of the policies the registry is built for (files beside them, e.g. pins).
    policy_dir: Path


@dataclass(frozen=True, slots=True)
class ToolSources:
    """What a ``tool_source`` hook built: capabilities and the sources that reload them.

    A capability named like the hook's own takes its place; the others are added after every
    registered capability; when none is named like it, the hook's own capability is left out.
    """

    capabilities: Sequence[Capability[Any, Any]] = ()
    reloadable: Sequence[Reloadable] = ()


class _NoConfig(BaseModel):
    model_config = {"extra": "forbid"}


async def _no_setup(ctx: SetupContext[Any]) -> Resources:
    return Resources(clients={})


@dataclass(frozen=True, slots=True)
class Capability(Generic[ConfigT, ScopeT]):
    """A named group of tools with one upstream, one config section and one policy file."""

    name: str
    title: str
    description: str
    tools: tuple[Tool[Any, Any, ConfigT, ScopeT], ...]
    config_model: type[ConfigT] = _NoConfig  # type: ignore[assignment]
    #: Pydantic model (extra='forbid') of the policy ``scope`` block; ``None``: no scope keys.
    scope_model: type[ScopeT] | None = None
    setup: Callable[[SetupContext[ConfigT]], Awaitable[Resources]] = _no_setup
    #: Policy example shipped in the capability README and in ``policies/``.
    version: str = "1"
    #: Optional ``labgate doctor`` probe: upstream reachable, scope names resolve, preview.
    doctor: Callable[[DoctorContext[ConfigT, ScopeT]], Awaitable[DoctorReport]] | None = None
    #: For tools defined in operator files: ``tool_source(config, context)`` (``config``:
    #: ``None`` when the deployment has no section for this capability) loads them (raising
    #: :class:`ConfigError` when they are invalid) and returns the source whose ``capability``
    #: replaces this one and which reloads, or several (:class:`ToolSources`); ``None``: keep
    #: this capability.
    tool_source: (
        Callable[[ConfigT | None, SourceContext], ToolSource | ToolSources | None] | None
    ) = None
    #: ``labgate <name> ARGS``: ``command(config, policy_dir, args)`` returns the exit status
    #: (the CLI declares the arguments; ``config`` is this capability's validated section).
    command: Callable[[ConfigT, Path, Sequence[str]], int] | None = None
    #: Proposing tool name -> what applies an approved proposal of it.
    appliers: Mapping[str, Applier] = field(default_factory=dict)
    #: ``available(tool_name)``: whether a tool can be offered right now (a fronted MCP tool
    #: whose live definition no longer matches its pin is not); ``None``: always.
    available: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9_]*$", self.name):
            raise ValueError(f"capability name {self.name!r} must be snake_case")
        for t in self.tools:
            if not t.name.startswith(self.name + "_"):
                raise ValueError(f"tool {t.name} must be prefixed with {self.name}_")
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise ValueError(f"capability {self.name} declares a tool twice")
        proposing = {t.name for t in self.tools if t.proposes}
        if proposing != set(self.appliers):
            raise ValueError(f"capability {self.name}: each proposing tool needs one applier")

    def tool(self, name: str) -> Tool[Any, Any, ConfigT, ScopeT] | None:
        for t in self.tools:
            if t.name == name:
                return t
        return None


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of a ``labgate doctor`` check; ``message`` never carries a secret."""

    status: Literal["ok", "warn", "fail"]
    #: What was checked, e.g. ``upstream uptime_kuma`` or ``rule hermes-reads: tags_all``.
    subject: str
    #: Stable kebab-case code (see gateway/doctor/codes.py), e.g. ``credentials-rejected``.
    code: str
    message: str


def upstream_failure(subject: str, exc: GatewayError) -> Finding:
    """The finding for an error raised by the guarded upstream client (no upstream text)."""
    if isinstance(exc, UpstreamUnavailable | UpstreamTimeout):
        return Finding("fail", subject, "unreachable", f"no answer ({exc.code})")
    return Finding("fail", subject, "unexpected-shape", f"unusable answer ({exc.code})")


@dataclass(frozen=True, slots=True)
class DoctorContext(Generic[ConfigT, ScopeT]):
    """Handed to ``Capability.doctor``: the live upstream, the config, every policy scope."""

    config: ConfigT
    #: ``http(upstream_name)``: the same guarded client the tools get.
    http: Callable[[str], httpx.AsyncClient]
    #: Rule id -> the validated scope of each rule of this capability's policy.
    scopes: Mapping[str, ScopeT | None]


@dataclass(slots=True)
class DoctorReport:
    """What a capability's doctor found, and what each rule's scope admits today."""

    findings: list[Finding] = field(default_factory=list)
    #: Rule id -> kind (``monitors``, ``tags``, ``targets`` ...) -> names admitted today.
    admitted: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def now_utc() -> datetime:
    """Helper for sample data and tests; the pipeline passes ``ctx.now`` to handlers."""
    return datetime.now(UTC)
