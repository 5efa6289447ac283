"""One call as it passes the stages: what the face handed in, then what each stage learned.

A :class:`Call` is created by :meth:`Pipeline.call <gateway.pipeline.Pipeline.call>` and handed
to every stage in turn; fields below the line are set by the stage named beside them, so a
stage reads only what an earlier stage wrote.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from gateway.audit.record import AuditRecord
from gateway.capability import Capability, Principal, Tool
from gateway.policy import Obligations, PolicySet
from gateway.policy.evaluate import Decision

__all__ = ["AuditWriter", "BodyReader", "Call", "CallOutcome", "ToolInfo"]

#: Reads a face's request body after authentication; ``None`` when it is not a JSON value.
BodyReader = Callable[[], Awaitable[Any]]


class AuditWriter(Protocol):
    """What the pipeline needs from the audit subsystem (gateway.audit.sink.AuditSink)."""

    async def write(self, record: AuditRecord) -> None: ...


@dataclass(slots=True)
class ToolInfo:
    capability: Capability
    tool: Tool[Any, Any]
    untrusted: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CallOutcome:
    envelope: dict[str, Any]
    record: AuditRecord


@dataclass(slots=True)
class Call:
    #: The one audit record of the call, filled in by every stage, written once at the end.
    record: AuditRecord
    face: str
    headers: Mapping[str, str]
    client_host: str | None
    #: The arguments as the face received them (MCP), or ``None`` until ``read_body`` (REST).
    raw_args: Any
    read_body: BodyReader | None
    #: The MCP mount the call came through (one capability's tools only), if any.
    mount: str | None
    #: The caller, when the face already admitted it for the whole request (MCP).
    admitted: Principal | None
    #: True once ``authenticate`` has set ``principal``.
    authenticated: bool = False

    principal: Principal = field(init=False)  # authenticate
    policy_set: PolicySet = field(init=False)  # resolve_tool
    now: datetime = field(init=False)  # resolve_tool
    found: ToolInfo | None = field(init=False)  # resolve_tool (None: unknown, off, other mount)
    tool: ToolInfo = field(init=False)  # decide (only once the tool is allowed)
    allowed: Decision = field(init=False)  # decide (the tool's decision, arguments not yet known)
    args: BaseModel = field(init=False)  # bind_arguments
    arg_values: dict[str, Any] = field(init=False)  # bind_arguments
    obligations: Obligations = field(init=False)  # decide_with_arguments
    output: dict[str, Any] = field(init=False)  # execute (scrubbed of secrets)
    partial: bool = field(init=False)  # execute
    retrieved: str = field(init=False)  # execute
    envelope: dict[str, Any] = field(init=False)  # shape_result
