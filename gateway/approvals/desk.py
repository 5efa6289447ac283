"""The desk: takes proposals from tools, decisions from the room and the operator, and applies.

    submit   tool -> policy says which rule (and its approval) -> quota -> store -> audit
    decide   verdict (Matrix event or operator) -> checks -> store transition -> audit -> apply
    apply    policy evaluated again -> the capability's applier with the stored payload -> audit

Every step is one ``kind: approval`` audit record carrying ``notes.proposal_id``; an event that
changes nothing is an ``ignored`` record with its reason (see codes.py). Decisions and applies
run one at a time (one lock), so two verdicts on one proposal are decided in order.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from gateway.approvals.codes import Ignored, Step
from gateway.approvals.records import approval_record, from_dict, principal_dict
from gateway.approvals.render import proposal_message, result_message
from gateway.approvals.store import ProposalRow, ProposalStore
from gateway.audit.record import AuditRecord
from gateway.capability import (
    ApplyContext,
    ApplyRefused,
    Draft,
    Principal,
    ProposalState,
    Resources,
    Ticket,
    ToolContext,
)
from gateway.errors import Denied, GatewayError, NotFound, RateLimited
from gateway.policy.evaluate import CallRequest, Decision, evaluate
from gateway.policy.model import Rule
from gateway.policy.store import PolicyStore
from gateway.registry import Registry

__all__ = ["AuditWriter", "Poster", "ProposalDesk", "Verdict"]

log = logging.getLogger("labgate.approvals")

#: Who decided through ``labgate approvals approve|deny``.
OPERATOR_VIA = "operator"
MATRIX_VIA = "matrix"


class AuditWriter(Protocol):
    async def write(self, record: AuditRecord) -> None: ...


class Poster(Protocol):
    """The approvals room (gateway.approvals.link.MatrixLink)."""

    async def post(self, content: dict[str, Any], txn_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str  # "approve" | "deny"
    actor: str
    via: str
    #: The proposal, by id (a command, the operator) ...
    proposal_id: str | None = None
    #: ... or by the labgate post the event relates to.
    target_event: str | None = None
    #: The Matrix event (for replay detection and the audit record).
    event_id: str | None = None
    room_id: str | None = None


def new_proposal_id() -> str:
    return secrets.token_hex(8)


class ProposalDesk:
    def __init__(
        self,
        *,
        store: ProposalStore,
        registry: Registry,
        policies: PolicyStore,
        resources: Mapping[str, Resources],
        configs: Mapping[str, BaseModel],
        audit: AuditWriter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        room_id: str | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.policies = policies
        self.resources = resources
        self.configs = configs
        self.audit = audit
        self.clock = clock
        #: The configured approvals room; a Matrix verdict from any other room is ignored.
        self.room_id = room_id
        self.poster: Poster | None = None
        self._lock = asyncio.Lock()
        self.wake = asyncio.Event()

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    # -- the tools' side (gateway.capability.Proposals) -----------------------------------

    async def submit(self, ctx: ToolContext, tool: str, args: BaseModel, draft: Draft) -> Ticket:
        found = self.registry.find_tool(tool)
        if found is None or not found[1].proposes:
            raise GatewayError(internal=f"{tool} is not a proposing tool")
        cap = found[0]
        arg_values = args.model_dump(mode="json")
        decision, rule = self._rule(ctx.principal, cap.name, tool, arg_values, ctx.now)
        if rule is None or rule.approval is None:
            raise Denied(internal="proposal without an allowing rule that has approval")
        approval = rule.approval
        row = ProposalRow(
            id=new_proposal_id(),
            capability=cap.name,
            tool=tool,
            rule_id=rule.id,
            principal=principal_dict(ctx.principal),
            request_id=ctx.request_id,
            args=arg_values,
            target=draft.target,
            title=draft.title,
            changes=draft.changes,
            payload=dict(draft.payload),
            reason=draft.reason,
            status="pending",
            created_at=ctx.now,
            expires_at=ctx.now + timedelta(seconds=approval.expires_seconds),
            posted_event=None,
            decided_by=None,
            decided_via=None,
            decided_at=None,
            applied=None,
            error=None,
        )
        if not await self._db(self.store.add_if_under_quota, row, approval.daily_quota):
            midnight = datetime.combine(ctx.now.astimezone(UTC).date(), datetime.min.time(), UTC)
            wait = (midnight + timedelta(days=1) - ctx.now).total_seconds()
            ctx.notes["proposal_quota"] = approval.daily_quota
            raise RateLimited(max(wait, 1.0), internal="daily proposal quota reached")
        ctx.notes["proposal_id"] = row.id
        try:
            await self._audit(row, Step.PROPOSED, policy_version=decision.policy_version)
        except BaseException:
            await self._db(self.store.discard, row.id)
            raise
        self.wake.set()
        return Ticket(row.id, "pending", row.expires_at)

    async def status(self, ctx: ToolContext, proposal_id: str) -> ProposalState:
        await self.expire_due()
        row = await self._db(self.store.get, proposal_id)
        if row is None or row.sub != ctx.principal.sub:
            raise NotFound(internal="no such proposal of this principal")
        return ProposalState(
            proposal_id=row.id,
            status=row.status,
            target=row.target,
            changes=row.changes,
            created_at=row.created_at,
            expires_at=row.expires_at,
            decided_at=row.decided_at,
            applied=row.applied,
            error=row.error,
        )

    # -- deciding ---------------------------------------------------------------------------

    async def decide(self, v: Verdict) -> str:
        """Carry out one verdict; answers the resulting step (``ignored`` when nothing changed)."""
        async with self._lock:
            return await self._decide(v)

    async def _decide(self, v: Verdict) -> str:
        now = self.clock()
        row = None
        if v.target_event is not None:
            row = await self._db(self.store.by_posted_event, v.target_event)
        if row is None and v.proposal_id is not None:
            row = await self._db(self.store.get, v.proposal_id)
        if v.event_id is not None and not await self._db(self.store.first_sight, v.event_id, now):
            return await self._ignore(row, v, Ignored.REPLAYED_EVENT)
        if v.via == MATRIX_VIA and v.room_id != self.room_id:
            return await self._ignore(row, v, Ignored.WRONG_ROOM)
        if row is None:
            return await self._ignore(None, v, Ignored.UNKNOWN_PROPOSAL)
        if v.proposal_id is not None and v.proposal_id != row.id:
            return await self._ignore(row, v, Ignored.ID_MISMATCH)
        if v.via == MATRIX_VIA:
            approvers = self._approvers(row, now)
            if approvers is None:
                return await self._ignore(row, v, Ignored.POLICY_DENIES)
            if v.actor not in approvers:
                return await self._ignore(row, v, Ignored.NOT_AN_APPROVER)
        if row.status == "expired" or (row.status == "pending" and now >= row.expires_at):
            await self.expire_due()
            return await self._ignore(row, v, Ignored.PROPOSAL_EXPIRED)
        if row.status != "pending":
            return await self._ignore(row, v, Ignored.ALREADY_DECIDED)
        status = "approved" if v.verdict == "approve" else "denied"
        if not await self._db(self.store.decide, row.id, status, v.actor, v.via, now):
            return await self._ignore(row, v, Ignored.ALREADY_DECIDED)
        step = Step.APPROVED if status == "approved" else Step.DENIED
        await self._audit(row, step, actor=v.actor, via=v.via, event_id=v.event_id)
        await self._tell(row, f"{step} by {v.actor}")
        if status == "approved":
            return await self._apply(row.id)
        return str(step)

    async def ignore_event(self, v: Verdict, why: Ignored) -> None:
        """Audit an event that is never a verdict (an edit of a command)."""
        async with self._lock:
            if v.event_id is not None:
                await self._db(self.store.first_sight, v.event_id, self.clock())
            row = None
            if v.target_event is not None:
                row = await self._db(self.store.by_posted_event, v.target_event)
            await self._ignore(row, v, why)

    def _approvers(self, row: ProposalRow, now: datetime) -> frozenset[str] | None:
        """The approvers of the rule that allows the proposal now (an edit can remove one);
        ``None`` when the policy does not allow it now (kill switch, rule removed ...)."""
        _, rule = self._rule(from_dict(row.principal), row.capability, row.tool, row.args, now)
        if rule is None or rule.approval is None:
            return None
        return frozenset(rule.approval.approvers)

    async def _ignore(self, row: ProposalRow | None, v: Verdict, why: Ignored) -> str:
        log.warning(
            "approval event ignored (%s): %s by %s via %s for %s",
            why,
            v.verdict,
            v.actor,
            v.via,
            row.id if row else v.proposal_id or v.target_event,
        )
        await self._audit(
            row,
            Step.IGNORED,
            reasons=[str(why)],
            actor=v.actor,
            via=v.via,
            event_id=v.event_id,
            extra={
                "verdict": v.verdict,
                "room_id": v.room_id,
                **({"named_proposal": v.proposal_id} if row is None and v.proposal_id else {}),
            },
        )
        return str(Step.IGNORED)

    async def expire_due(self) -> None:
        ids = await self._db(self.store.expire, self.clock())
        for ident in ids:
            row = await self._db(self.store.get, ident)
            if row is not None:
                await self._audit(row, Step.EXPIRED)
                await self._tell(row, "expired, nothing was applied")

    async def inbox(self) -> None:
        """Carry out the operator's decisions (``labgate approvals approve|deny``)."""
        for item in await self._db(self.store.inbox):
            await self.decide(
                Verdict(item.verdict, item.actor, OPERATOR_VIA, proposal_id=item.proposal_id)
            )
            await self._db(self.store.done, item.seq)

    async def resume(self) -> None:
        """Apply what was approved before a stop and never applied."""
        async with self._lock:
            for row in await self._db(self.store.approved_unapplied):
                await self._apply(row.id)

    # -- applying ---------------------------------------------------------------------------

    async def _apply(self, proposal_id: str) -> str:
        row = await self._db(self.store.get, proposal_id)
        if row is None or row.status != "approved":
            return "ignored"
        now = self.clock()
        notes: dict[str, Any] = {}
        try:
            applied = await self._run_applier(row, now, notes)
        except ApplyRefused as exc:
            return await self._fail(row, exc.code, exc.message, notes)
        except GatewayError as exc:
            return await self._fail(row, exc.code, exc.internal or exc.detail, notes)
        except Exception as exc:  # a defect in an applier: failed, never retried blindly
            log.exception("applier of %s failed", row.tool)
            return await self._fail(row, "internal_error", type(exc).__name__, notes)
        await self._db(lambda: self.store.finish(row.id, "applied", applied=dict(applied)))
        await self._audit(row, Step.APPLIED, extra={"applied": dict(applied), **notes})
        await self._tell(row, "applied")
        return str(Step.APPLIED)

    async def _run_applier(
        self, row: ProposalRow, now: datetime, notes: dict[str, Any]
    ) -> Mapping[str, Any]:
        principal = from_dict(row.principal)
        decision, rule = self._rule(principal, row.capability, row.tool, row.args, now)
        if rule is None or decision.obligations is None:
            reasons = ",".join(str(r) for r in decision.reasons)
            raise ApplyRefused("policy-denies", f"the policy no longer allows it ({reasons})")
        if rule.approval is None:
            raise ApplyRefused("policy-denies", "the allowing rule has no approval")
        cap = self.registry[row.capability]
        applier = cap.appliers.get(row.tool)
        resources = self.resources.get(cap.name)
        if applier is None or resources is None:
            raise ApplyRefused("capability-off", f"capability {cap.name} is not set up")
        ctx = ApplyContext(
            proposal_id=row.id,
            now=now,
            scope=decision.obligations.scope,
            config=self.configs[cap.name],
            clients=resources.clients,
            notes=notes,
        )
        return await applier(row.payload, ctx)

    async def _fail(self, row: ProposalRow, code: str, cause: str, notes: dict[str, Any]) -> str:
        log.warning("proposal %s failed: %s (%s)", row.id, code, cause)
        await self._db(lambda: self.store.finish(row.id, "failed", error=code))
        await self._audit(row, Step.FAILED, reasons=[code], extra={"cause": cause[:300], **notes})
        await self._tell(row, "failed, nothing was applied", code)
        return str(Step.FAILED)

    # -- posting ----------------------------------------------------------------------------

    async def post_pending(self) -> None:
        """Post every pending proposal not posted yet (after a Matrix outage too)."""
        poster = self.poster
        if poster is None:
            return
        for row in await self._db(self.store.unposted):
            event_id = await poster.post(proposal_message(row), f"labgate-proposal-{row.id}")
            await self._db(self.store.set_posted, row.id, event_id)
            await self._audit(row, Step.POSTED, extra={"event_id": event_id})

    async def _tell(self, row: ProposalRow, event: str, detail: str = "") -> None:
        """A result line in the room (best effort: the audit record is the truth)."""
        if self.poster is None:
            return
        fresh = await self._db(self.store.get, row.id) or row
        try:
            await self.poster.post(
                result_message(fresh, event, detail), f"labgate-{row.id}-{secrets.token_hex(4)}"
            )
        except Exception as exc:
            log.warning("could not post the result of proposal %s: %s", row.id, exc)

    # -- helpers ----------------------------------------------------------------------------

    def _rule(
        self, principal: Principal, cap: str, tool: str, args: Mapping[str, Any], now: datetime
    ) -> tuple[Decision, Rule | None]:
        policy_set = self.policies.current
        decision = evaluate(CallRequest(principal, cap, tool, args, now), policy_set)
        if not decision.allowed or decision.rule_id is None:
            return decision, None
        policy = policy_set.capabilities.get(cap)
        rule = next((r for r in policy.rules if r.id == decision.rule_id), None) if policy else None
        return decision, rule

    async def _audit(
        self,
        row: ProposalRow | None,
        step: Step,
        *,
        policy_version: str | None = None,
        **details: Any,
    ) -> None:
        version = policy_version or self.policies.current.version
        await self.audit.write(approval_record(row, step, version, **details))
