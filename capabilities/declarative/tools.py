"""Declarative tools as real :class:`~gateway.capability.Tool` objects, and the one place
their failures become gateway errors.

A tool's models (arguments, result) are fixed when it is built; its handler reads the tool's
*current* definition from the store at each call, so a reload can change the path, query,
projection and caps of a tool without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gateway.capability import Tool, ToolContext
from gateway.errors import Denied, InvalidArguments, NotFound, UpstreamError

from .client import DeclarativeClient, Refused, StatusMeaning, Unusable
from .models import args_model, output_model, record_model
from .project import OutsideScope, WrongShape, project
from .request import BadValue, OutOfScope, build_request
from .schemas import DeclarativeConfig, DeclarativeScope, ToolDef

__all__ = ["BuiltModels", "build_models", "make_tool"]

_INTERNAL_MAX = 200


@dataclass(frozen=True, slots=True)
class BuiltModels:
    args: type[BaseModel]
    record: type[BaseModel]
    output: type[BaseModel]


def build_models(defn: ToolDef) -> BuiltModels:
    record = record_model(defn)
    return BuiltModels(args_model(defn), record, output_model(defn, record))


#: What a declarative tool gets: its config and its rule's scope, typed.
Ctx = ToolContext[DeclarativeConfig, DeclarativeScope]


def make_tool(
    defn: ToolDef, models: BuiltModels, current: Callable[[str], ToolDef]
) -> Tool[Any, Any, DeclarativeConfig, DeclarativeScope]:
    """A Tool whose handler runs ``current(name)``, the definition in force at call time."""
    name = defn.name

    async def handler(args: BaseModel, ctx: Ctx) -> BaseModel:
        live = current(name)
        scope = ctx.scope
        with _mapped(live):
            request = build_request(live, args.model_dump(mode="json"), scope)
            body = await ctx.client(DeclarativeClient).fetch(live, request)
            result = project(live, body, models.record, models.output, scope)
        if result.dropped:
            ctx.notes["scope_dropped"] = result.dropped
        ctx.partial = ctx.partial or result.partial
        return result.output

    return Tool(
        name=name,
        title=defn.title,
        description=defn.description,
        args_model=models.args,
        output_model=models.output,
        handler=handler,
        upstream=defn.upstream,
    )


class _mapped:
    """Map this capability's failures to gateway errors (the only place it happens)."""

    def __init__(self, defn: ToolDef) -> None:
        self.defn = defn

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or not isinstance(exc, Exception):
            return
        upstream = self.defn.upstream
        if isinstance(exc, BadValue):
            raise InvalidArguments(
                f"Argument {exc} holds characters that cannot be used in a request.",
                internal=f"unsafe path value for {exc}",
            ) from None
        if isinstance(exc, OutOfScope):
            raise Denied(internal=f"argument {exc} outside the policy scope") from None
        if isinstance(exc, OutsideScope):
            raise NotFound(internal="record outside the policy scope") from None
        if isinstance(exc, StatusMeaning):
            if exc.meaning == "not_found":
                raise NotFound(internal=str(exc)) from None
            raise InvalidArguments(
                "The service refused these argument values.", internal=str(exc)
            ) from None
        if isinstance(exc, Refused):
            raise UpstreamError(upstream, internal="credentials rejected") from None
        if isinstance(exc, Unusable | WrongShape):
            raise UpstreamError(upstream, internal=str(exc)[:_INTERNAL_MAX]) from None
