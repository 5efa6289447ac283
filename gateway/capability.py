"""The plug-in interface: what a capability is, what a tool is, what a tool gets at run time.

A capability is a folder under ``capabilities/`` whose ``__init__.py`` exports ``CAPABILITY``.
Capabilities import only this module and :mod:`gateway.errors`.

    class SearchArgs(BaseModel):
        model_config = ConfigDict(extra="forbid")
        query: str = Field(min_length=1, max_length=200)

    @tool("documents_search", title="Search documents", output=SearchResult)
    async def search(args: SearchArgs, ctx: ToolContext) -> SearchResult:
        return await ctx.client(PaperlessClient).search(args, scope=ctx.scope)

    CAPABILITY = Capability(
        name="documents", title="...", description="...",
        tools=(search,), config_model=DocumentsConfig, scope_model=DocumentsScope,
        setup=setup,                     # async (SetupContext) -> Resources
    )

Rules a tool follows: read-only; output root is an object (lists as ``{"items": [...],
"next_cursor": ...}``); free text that comes from an upstream is typed :data:`UntrustedText`;
errors are raised as :mod:`gateway.errors` types, never as upstream text.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, get_type_hints

import httpx
from pydantic import BaseModel, Field

from gateway.errors import GatewayError, UpstreamTimeout, UpstreamUnavailable

__all__ = [
    "UNTRUSTED_MARK",
    "Capability",
    "DoctorContext",
    "DoctorReport",
    "Finding",
    "Principal",
    "Resources",
    "SetupContext",
    "Tool",
    "ToolContext",
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

ArgsT = TypeVar("ArgsT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)
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
class Tool(Generic[ArgsT, OutT]):
    """One typed, read-only operation of a capability."""

    name: str
    title: str
    description: str
    args_model: type[ArgsT]
    output_model: type[OutT]
    handler: Callable[[ArgsT, ToolContext], Awaitable[OutT]]
    #: Upstream name recorded in provenance and audit (``None`` when the tool needs none).
    upstream: str | None = None

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
) -> Callable[[Callable[[Any, ToolContext], Awaitable[OutT]]], Tool[Any, OutT]]:
    """Declare a tool; the args model is read from the handler's first parameter annotation."""

    def wrap(fn: Callable[[Any, ToolContext], Awaitable[OutT]]) -> Tool[Any, OutT]:
        hints = get_type_hints(fn)
        first = next(iter(inspect.signature(fn).parameters))
        args_model = hints[first]
        doc = inspect.cleandoc(fn.__doc__ or "").strip()
        return Tool(
            name=name,
            title=title,
            description=description or doc or title,
            args_model=args_model,
            output_model=output,
            handler=fn,
            upstream=upstream,
        )

    return wrap


@dataclass(slots=True)
class Resources:
    """What a capability's ``setup`` returns: its clients, keyed by class, and a closer."""

    clients: Mapping[type[Any], Any]
    close: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class SetupContext:
    """Handed to ``Capability.setup`` once, in the app's lifespan."""

    #: The capability's validated config (an instance of ``Capability.config_model``).
    config: BaseModel
    #: Demo mode: build clients over the capability's sample data, never the network.
    sample: bool
    #: ``http(upstream_name)`` -> a guarded ``httpx.AsyncClient`` built by gateway/upstream.py
    #: (base URL pinned, no redirects, timeouts, size cap, breaker, credentials injected).
    http: Callable[[str], httpx.AsyncClient]


@dataclass(slots=True)
class ToolContext:
    """What a tool handler gets besides its arguments."""

    principal: Principal
    request_id: str
    now: datetime
    #: The matched rule's scope (an instance of ``Capability.scope_model``) or ``None``.
    scope: BaseModel | None
    config: BaseModel
    clients: Mapping[type[Any], Any]
    #: Notes the tool wants in the audit record (e.g. ``{"scope_dropped": 2}``); small, no secrets.
    notes: dict[str, Any] = field(default_factory=dict)
    #: True when the tool returned less than it found (truncation, item caps upstream).
    partial: bool = False

    def client(self, cls: type[T]) -> T:
        try:
            return self.clients[cls]  # type: ignore[no-any-return]
        except KeyError:
            raise LookupError(f"no client of type {cls.__name__} was set up") from None


class _NoConfig(BaseModel):
    model_config = {"extra": "forbid"}


async def _no_setup(ctx: SetupContext) -> Resources:
    return Resources(clients={})


@dataclass(frozen=True, slots=True)
class Capability:
    """A named group of tools with one upstream, one config section and one policy file."""

    name: str
    title: str
    description: str
    tools: tuple[Tool[Any, Any], ...]
    config_model: type[BaseModel] = _NoConfig
    #: Pydantic model (extra='forbid') of the policy ``scope`` block; ``None``: no scope keys.
    scope_model: type[BaseModel] | None = None
    setup: Callable[[SetupContext], Awaitable[Resources]] = _no_setup
    #: Policy example shipped in the capability README and in ``policies/``.
    version: str = "1"
    #: Optional ``labgate doctor`` probe: upstream reachable, scope names resolve, preview.
    doctor: Callable[[DoctorContext], Awaitable[DoctorReport]] | None = None

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9_]*$", self.name):
            raise ValueError(f"capability name {self.name!r} must be snake_case")
        for t in self.tools:
            if not t.name.startswith(self.name + "_"):
                raise ValueError(f"tool {t.name} must be prefixed with {self.name}_")
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise ValueError(f"capability {self.name} declares a tool twice")

    def tool(self, name: str) -> Tool[Any, Any] | None:
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
class DoctorContext:
    """Handed to ``Capability.doctor``: the live upstream, the config, every policy scope."""

    config: BaseModel
    #: ``http(upstream_name)``: the same guarded client the tools get.
    http: Callable[[str], httpx.AsyncClient]
    #: Rule id -> the validated scope of each rule of this capability's policy.
    scopes: Mapping[str, BaseModel | None]


@dataclass(slots=True)
class DoctorReport:
    """What a capability's doctor found, and what each rule's scope admits today."""

    findings: list[Finding] = field(default_factory=list)
    #: Rule id -> kind (``monitors``, ``tags``, ``targets`` ...) -> names admitted today.
    admitted: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def now_utc() -> datetime:
    """Helper for sample data and tests; the pipeline passes ``ctx.now`` to handlers."""
    return datetime.now(UTC)
