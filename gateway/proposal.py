"""The write side of the plug-in interface: proposals a human approves before anything is written.

A tool declared with ``proposes=True`` never writes. It checks what the agent asks for against
the rule's scope and write bounds, reads the current state, and hands a :class:`Draft` to
``ctx.proposals.submit``; labgate stores it, posts it for approval and answers a
:class:`Ticket`. Once an allowed approver approves, labgate evaluates the policy again and calls
the capability's :data:`Applier` for that tool with the stored payload (never with message text)
and the scope of the rule in force at that moment; the applier checks scope and bounds again.

Capabilities import these names from :mod:`gateway.capability`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol

from pydantic import BaseModel
from typing_extensions import TypeVar

if TYPE_CHECKING:
    from gateway.capability import ToolContext

__all__ = [
    "Applier",
    "ApplyContext",
    "ApplyRefused",
    "Draft",
    "FieldChange",
    "ProposalState",
    "ProposalStatus",
    "Proposals",
    "Ticket",
]

ProposalStatus = Literal["pending", "approved", "applied", "failed", "denied", "expired"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One line of the diff a human reads: ``field: current -> proposed``."""

    field: str
    current: str
    proposed: str


@dataclass(frozen=True, slots=True)
class Draft:
    """What a proposing tool hands over; ``payload`` is exactly what the applier will get."""

    #: What is changed, e.g. ``document 12``.
    target: str
    #: The object's current title or name (upstream text: shown as such, never trusted).
    title: str
    changes: tuple[FieldChange, ...]
    #: JSON-serialisable; stored as is and given to the applier after approval.
    payload: Mapping[str, Any]
    #: The agent's own words (untrusted): quoted, never interpreted.
    reason: str


@dataclass(frozen=True, slots=True)
class Ticket:
    proposal_id: str
    status: ProposalStatus
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ProposalState:
    """A stored proposal as its proposer may see it."""

    proposal_id: str
    status: ProposalStatus
    target: str
    changes: tuple[FieldChange, ...]
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    #: What was written (the applier's answer), when applied.
    applied: Mapping[str, Any] | None = None
    #: Stable code of a failure (``upstream_unavailable``, ``scope-violation`` ...).
    error: str | None = None


class Proposals(Protocol):
    """Offered to tools as ``ctx.proposals`` (``None`` when labgate keeps no proposals)."""

    async def submit(self, ctx: ToolContext, tool: str, args: BaseModel, draft: Draft) -> Ticket:
        """Store a proposal of the calling principal (nothing is written) and queue its post."""
        ...

    async def status(self, ctx: ToolContext, proposal_id: str) -> ProposalState:
        """A proposal of the calling principal; another's, or none, raises ``NotFound``."""
        ...


class ApplyRefused(Exception):
    """The applier will not write: the object left the scope, or the bounds changed.

    ``code`` is a stable kebab-case reason kept in the proposal and the audit record.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


#: The capability's config and scope models, as in ``Capability[ConfigT, ScopeT]``.
ConfigT = TypeVar("ConfigT", bound=BaseModel, default=Any)
ScopeT = TypeVar("ScopeT", bound=BaseModel, default=Any)


@dataclass(slots=True)
class ApplyContext(Generic[ConfigT, ScopeT]):
    """What an applier gets besides the stored payload (typed like ``ToolContext``)."""

    proposal_id: str
    now: datetime
    #: The scope of the rule that allows the proposing tool now (re-evaluated at apply time).
    scope: ScopeT | None
    config: ConfigT
    clients: Mapping[type[Any], Any]
    #: Small facts for the audit record.
    notes: dict[str, Any] = field(default_factory=dict)

    def client(self, cls: type[Any]) -> Any:
        try:
            return self.clients[cls]
        except KeyError:
            raise LookupError(f"no client of type {cls.__name__} was set up") from None


#: ``applier(payload, ctx) -> what was written`` (small, JSON-serialisable).
Applier = Callable[[Mapping[str, Any], ApplyContext], Awaitable[Mapping[str, Any]]]
