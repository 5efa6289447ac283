"""One call, for every face (REST and MCP), as a list of stages over one :class:`Call`:

    authenticate -> read arguments -> resolve tool -> decide -> bind arguments
    -> decide with arguments -> rate limit -> execute (cache, timeout, scrub) -> shape

The stages are listed once, in :data:`~gateway.pipeline.stages.STAGES`. Every call that gets
past authentication produces exactly one audit record, written by :meth:`Pipeline._finish` and
made durable before the answer (or the error) leaves; a rejected authentication is counted by
the auth gate's aggregated ``auth_failure`` records instead (docs/decisions/0012). If the record
cannot be written the call fails with 503. A failure's internal cause (the error's ``internal``
text, the upstream status, the tool's notes) goes to the audit record and one log line,
scrubbed of secrets; the agent sees only the stable code, and the record carries the failure's
reason code from the catalog in gateway/errors.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from gateway.audit.record import AuditRecord, canonical_json
from gateway.auth.gate import AuthGate
from gateway.cache import ResultCache
from gateway.capability import Principal, Proposals, Resources, Tool
from gateway.cursor import CursorCodec
from gateway.errors import AuditUnavailable, AuthError, GatewayError, UpstreamFailure
from gateway.limits import Limiter
from gateway.pipeline.call import AuditWriter, BodyReader, Call, CallOutcome, ToolInfo
from gateway.pipeline.stages import CAUSE_MAX, STAGES, Stages
from gateway.policy.evaluate import CallRequest, evaluate
from gateway.policy.reasons import Reason
from gateway.policy.shadow import ShadowStore
from gateway.policy.store import PolicyStore
from gateway.registry import Registry
from gateway.scrub import Scrubber
from gateway.shaping import untrusted_paths
from gateway.telemetry import Telemetry, current_trace_id
from gateway.upstream.trail import follow

__all__ = ["STAGES", "AuditWriter", "Call", "CallOutcome", "Pipeline"]

log = logging.getLogger("labgate.pipeline")


class Pipeline(Stages):
    def __init__(
        self,
        *,
        registry: Registry,
        policies: PolicyStore,
        gate: AuthGate,
        audit: AuditWriter,
        telemetry: Telemetry,
        resources: Mapping[str, Resources],
        configs: Mapping[str, BaseModel],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scrubber: Scrubber | None = None,
        shadow: ShadowStore | None = None,
        cursors: CursorCodec | None = None,
        proposals: Proposals | None = None,
    ) -> None:
        self.registry = registry
        self.policies = policies
        #: Throttles, authenticates and audits rejections, for every face.
        self.gate = gate
        self.audit = audit
        self.telemetry = telemetry
        self.resources = resources
        self.configs = configs
        #: Wall clock for policy decisions (``when`` windows) and tool contexts.
        self.clock = clock
        #: Every configured secret; no result, message or cause leaves with one of them.
        self.scrubber = scrubber or Scrubber(())
        #: Decided beside the live set, never enforced (``policies/shadow/``).
        self.shadow = shadow
        #: Seals the page cursors tools hand out (bound to tool and principal).
        self.cursors = cursors or CursorCodec()
        #: Where proposing (write) tools store proposals (gateway/approvals/).
        self.proposals = proposals
        self.limiter = Limiter()
        self.cache = ResultCache()
        self._tools = {
            t.name: ToolInfo(cap, t, untrusted_paths(t.output_model))
            for cap, t in registry.all_tools()
        }

    # -- authentication (the first stage, also offered to a face for a whole request) ------------

    async def admit(
        self, headers: Mapping[str, str], client_host: str | None, *, face: str
    ) -> Principal:
        """The caller, or AuthError/RateLimited (audited in aggregate by the gate).

        The ``authenticate`` stage calls it; a face calls it itself only for a request that is
        not a tool call (a tool list, an MCP message) and hands the principal to the call.
        """
        return await self.gate.admit(headers, client_host, face=face)

    # -- listing -----------------------------------------------------------------------------

    def allowed_tools(
        self, principal: Principal, now: datetime | None = None, capability: str | None = None
    ) -> list[Tool[Any, Any]]:
        """Exactly the tools a call would be allowed for (same evaluator, args not yet known)."""
        policy_set = self.policies.current
        moment = now or self.clock()
        allowed = []
        for name, info in self._tools.items():
            if info.capability.name not in self.resources:
                continue  # not set up: off, whatever a policy says
            if capability is not None and info.capability.name != capability:
                continue
            if info.capability.available is not None and not info.capability.available(name):
                continue  # withdrawn for now (e.g. a fronted tool that no longer matches its pin)
            req = CallRequest(principal, info.capability.name, name, None, moment)
            if evaluate(req, policy_set).allowed:
                allowed.append(info.tool)
        return allowed

    # -- calling -----------------------------------------------------------------------------

    async def call(
        self,
        *,
        headers: Mapping[str, str],
        client_host: str | None,
        tool_name: str,
        face: str,
        raw_args: Any = None,
        read_body: BodyReader | None = None,
        principal: Principal | None = None,
        request_id: str | None = None,
        capability: str | None = None,
    ) -> CallOutcome:
        """Run one call through every stage. Raises GatewayError after auditing it.

        ``read_body`` (REST) is awaited after authentication; ``raw_args`` (MCP) are the
        arguments already parsed. ``principal`` is given by a face that admitted the request
        itself; ``capability`` restricts the call to one MCP mount's tools.
        """
        record = AuditRecord(
            kind="call",
            request_id=request_id or secrets.token_hex(16),
            face=face,
            tool=tool_name[:64],
        )
        call = Call(record, face, headers, client_host, raw_args, read_body, capability, principal)
        with self.telemetry.span("labgate.call", tool=tool_name, face=face):
            record.trace_id = current_trace_id()
            started = time.perf_counter()
            failure = await self._run(call)
            await self._finish(call, failure, started)
        if failure is not None:
            raise failure
        return CallOutcome(call.envelope, record)

    async def _run(self, call: Call) -> BaseException | None:
        """Every stage in order; the failure that ended the call, if any (never raised here)."""
        try:
            with follow() as trail:
                try:
                    for stage in STAGES:
                        step = stage(self, call)
                        if step is not None:
                            await step
                finally:
                    call.record.upstream_status = trail.status
        except (GatewayError, asyncio.CancelledError) as exc:
            return exc
        except Exception as exc:  # a defect here must still deny, audited
            self._log_defect("pipeline failure", exc)
            return GatewayError(internal=type(exc).__name__)
        return None

    async def _finish(self, call: Call, failure: BaseException | None, started: float) -> None:
        """The one place a call's record is completed and written (durable before the answer)."""
        if not call.authenticated:
            return  # rejected at the gate, which audits it (in aggregate)
        record = call.record
        if isinstance(failure, asyncio.CancelledError):
            # The caller went away (client disconnect, shutdown): the attempt is still audited.
            record.error_code = "cancelled"
            if record.decision == "allow":
                record.decision = "error"
            record.latency_ms = (time.perf_counter() - started) * 1000
            await asyncio.shield(self._write_quietly(record))
            return
        if isinstance(failure, GatewayError):
            self._failed(record, failure)
        record.latency_ms = (time.perf_counter() - started) * 1000
        await self._write(record)
        self._observe(record)

    def _failed(self, record: AuditRecord, exc: GatewayError) -> None:
        """The failure's code and catalog reason in the record; its cause to record and log."""
        record.error_code = exc.code
        failed = record.decision == "allow"  # allowed, then failed
        if failed:
            record.decision = "error"
        if exc.audit_reason is not None and exc.audit_reason not in record.reasons:
            record.reasons.append(exc.audit_reason)
        if isinstance(exc, UpstreamFailure):
            record.upstream = exc.upstream
        exc.detail = self.scrubber.text(exc.detail)  # capability-written, still checked
        if exc.internal and not isinstance(exc, AuthError):
            record.notes["cause"] = self.scrubber.text(exc.internal)[:CAUSE_MAX]
        if failed:
            log.warning(
                "call %s to %s failed: %s (cause: %s; upstream %s answered %s; notes: %s)",
                record.request_id,
                record.tool,
                exc.code,
                record.notes.get("cause", "none recorded"),
                record.upstream or "-",
                record.upstream_status or "-",
                canonical_json({k: v for k, v in record.notes.items() if k != "cause"}),
            )

    def _observe(self, record: AuditRecord) -> None:
        tool = record.tool if record.capability else "(unknown)"
        tool = tool or "(unknown)"
        seconds = (record.latency_ms or 0.0) / 1000
        self.telemetry.record_call(tool, record.decision, record.face or "", seconds)
        if record.decision == "deny":
            for reason in record.reasons[:1]:
                self.telemetry.record_denial(tool, reason)
            if Reason.RATE_LIMITED in record.reasons:
                self.telemetry.record_rate_limited(tool)

    async def _write_quietly(self, record: AuditRecord) -> None:
        try:
            await self._write(record)
        except AuditUnavailable:
            log.error("audit record of a cancelled call could not be written")

    async def _write(self, record: AuditRecord) -> None:
        try:
            with self.telemetry.stage("labgate.audit", decision=record.decision):
                await self.audit.write(record)
        except AuditUnavailable:
            raise
        except Exception as exc:
            log.error("audit write failed: %s", type(exc).__name__)
            raise AuditUnavailable() from None
