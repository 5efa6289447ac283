"""The stages of one call, in order (:data:`STAGES`), each a small function over a :class:`Call`.

    authenticate -> read_arguments -> resolve_tool -> decide -> bind_arguments
    -> decide_with_arguments -> rate_limit -> execute -> shape_result

A stage either fills in the call (and its audit record) or raises the
:class:`~gateway.errors.GatewayError` that ends it; nothing here writes the record
(:meth:`Pipeline._finish <gateway.pipeline.Pipeline._finish>` does, once). Stages that need no
I/O are plain functions: the loop awaits only what returns an awaitable.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from gateway.arguments import parse_arguments
from gateway.audit.record import AuditRecord, canonical_json
from gateway.auth.gate import AuthGate
from gateway.cache import CallCache
from gateway.capability import Proposals, Resources, Tool, ToolContext
from gateway.cursor import CursorCodec
from gateway.errors import Denied, GatewayError, RateLimited, ToolTimeout, Unavailable
from gateway.pipeline.call import Call, ToolInfo
from gateway.policy.evaluate import CallRequest, Decision, evaluate, evaluate_arguments
from gateway.policy.outcome import decision_change
from gateway.policy.reasons import Reason
from gateway.policy.shadow import ShadowStore
from gateway.policy.store import PolicyStore
from gateway.scrub import Scrubber
from gateway.shaping import HARD_CEILING, Provenance, Shape, envelope, shape
from gateway.shared.limits import LimitsUnavailable, SharedLimits
from gateway.telemetry import Telemetry

__all__ = ["CAUSE_MAX", "STAGES", "Stage", "Stages"]

log = logging.getLogger("labgate.pipeline")

#: Longest internal cause kept in an audit record (and in a defect's log line).
CAUSE_MAX = 300

_Result = tuple[dict[str, Any], bool, str]


def _redact(args: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: ("[redacted]" if k in names else v) for k, v in args.items()}


class Stages:
    """The services the stages use (set up by :class:`~gateway.pipeline.Pipeline`)."""

    gate: AuthGate
    policies: PolicyStore
    telemetry: Telemetry
    resources: Mapping[str, Resources]
    configs: Mapping[str, BaseModel]
    clock: Callable[[], datetime]
    scrubber: Scrubber
    shadow: ShadowStore | None
    proposals: Proposals | None
    limiter: SharedLimits
    cache: CallCache[_Result]
    cursors: CursorCodec
    _tools: dict[str, ToolInfo]

    # -- the stages, in order ------------------------------------------------------------------

    async def authenticate(self, call: Call) -> None:
        """The caller, through the auth gate (throttled; a rejection is audited there)."""
        principal = call.admitted
        if principal is None:
            principal = await self.gate.admit(call.headers, call.client_host, face=call.face)
        call.principal, call.authenticated = principal, True
        record = call.record
        record.sub, record.client_id = principal.sub, principal.client_id
        record.username, record.groups = principal.username, list(principal.groups)
        record.token_id = principal.token_id

    async def read_arguments(self, call: Call) -> None:
        """The face's body, read only now that the caller is known."""
        if call.read_body is not None:
            call.raw_args = await call.read_body()

    def resolve_tool(self, call: Call) -> None:
        """The policy set in force, the time, and the tool (if it is served here at all)."""
        record = call.record
        call.policy_set = self.policies.current
        record.policy_version = call.policy_set.version
        call.now = self.clock()
        info = self._tools.get(record.tool or "")
        if info is not None and (
            info.capability.name not in self.resources
            or (call.mount is not None and info.capability.name != call.mount)
        ):
            # Off (not set up), or served by another mount: the same answer as an unknown tool.
            if call.mount is not None:
                record.notes["mount"] = call.mount
            info = None
        call.found = info
        record.capability = info.capability.name if info else None

    def decide(self, call: Call) -> None:
        """May this caller use this tool at all (arguments not yet trusted)?"""
        info, record = call.found, call.record
        request = CallRequest(
            call.principal, record.capability or "", record.tool or "", None, call.now
        )
        with self.telemetry.stage("labgate.decide"):
            first = evaluate(request, call.policy_set)
        if not first.allowed:
            self._shadow(record, request, first)
            denial = self._deny(record, first)
            if info is None:  # not a tool here: say so in the audit log, never to the agent
                record.reasons = [str(Reason.UNKNOWN_TOOL)]
            raise denial
        assert info is not None  # an unknown tool is never allowed
        call.tool, call.allowed = info, first

    def bind_arguments(self, call: Call) -> None:
        """The arguments, validated against the tool's model (InvalidArguments otherwise)."""
        call.args = parse_arguments(call.tool.tool.args_model, call.raw_args)
        call.arg_values = call.args.model_dump(mode="json")

    def decide_with_arguments(self, call: Call) -> None:
        """The decision that counts: bounds on the arguments, then the rule's obligations."""
        record, tool = call.record, call.tool
        request = CallRequest(
            call.principal, tool.capability.name, tool.tool.name, call.arg_values, call.now
        )
        # The tool's decision already found the rule; only its bounds see the arguments.
        decision = evaluate_arguments(call.allowed, request, call.policy_set)
        self._shadow(record, request, decision)
        record.arguments = _redact(call.arg_values, decision.redact)
        if not decision.allowed or decision.obligations is None:
            raise self._deny(record, decision)
        record.decision, record.rule_id = "allow", decision.rule_id
        record.reasons = [str(r) for r in decision.reasons]
        call.obligations = decision.obligations

    async def rate_limit(self, call: Call) -> None:
        """The global per-principal limit, then the matched rule's own (shared by the
        replicas through Redis when configured; a limit that cannot be checked refuses)."""
        obligations, sub = call.obligations, call.principal.sub
        try:
            wait = await self.limiter.check(
                [
                    (("*", sub), call.policy_set.global_policy.limits),
                    (
                        (call.tool.capability.name, obligations.rule_id or "", sub),
                        obligations.limits,
                    ),
                ],
                time.monotonic(),
            )
        except LimitsUnavailable:
            call.record.decision = "deny"
            call.record.reasons = [str(Reason.LIMITS_UNAVAILABLE)]
            raise
        if wait is not None:
            call.record.decision, call.record.reasons = "deny", [str(Reason.RATE_LIMITED)]
            raise RateLimited(wait)

    async def execute(self, call: Call) -> None:
        """Run the tool under the global deadline, through the cache when the rule allows it."""
        record, info, obligations = call.record, call.tool, call.obligations
        tool, scope = info.tool, obligations.scope
        ctx = ToolContext(
            principal=call.principal,
            request_id=record.request_id or "",
            now=call.now,
            scope=scope,
            config=self.configs[info.capability.name],
            clients=self.resources[info.capability.name].clients,
            tool=tool.name,
            cursors=self.cursors,
            proposals=self.proposals,
        )
        timeout = float(call.policy_set.global_policy.tool_timeout_seconds)
        ttl = float(obligations.cache_ttl or 0)
        record.upstream = tool.upstream
        try:
            if ttl > 0:

                async def run() -> _Result:
                    return await self._invoke(tool, call.args, ctx, timeout)

                key = canonical_json(  # per principal: its cursors open only for it
                    [
                        tool.name,
                        call.principal.issuer,
                        call.principal.sub,
                        call.arg_values,
                        scope.model_dump(mode="json") if scope else None,
                    ]
                )
                result, outcome = await self.cache.get_or_run(key, ttl, time.monotonic, run)
                record.cached = outcome != "miss"
                self.telemetry.record_cache(tool.name, outcome)
            else:
                result = await self._invoke(tool, call.args, ctx, timeout)
        finally:  # the tool's notes are kept on error paths too
            record.notes.update(self.scrubber.scan(ctx.notes)[0])
        output, call.partial, call.retrieved = result
        call.output = self._scrub(record, output)

    def shape_result(self, call: Call) -> None:
        """The rule's result obligations (fields, truncation, item cap), then the envelope."""
        record, info, rule = call.record, call.tool, call.obligations.result
        shape_rule = Shape(
            fields=tuple(rule.fields) if rule and rule.fields is not None else None,
            truncate=tuple((rule.truncate or {}).items()) if rule else (),
            max_items=rule.max_items if rule else None,
            max_chars=min(call.policy_set.global_policy.max_result_chars, HARD_CEILING),
        )
        shaped, cut = shape(call.output, shape_rule)
        items = shaped.get("items")
        record.result_count = len(items) if isinstance(items, list) else 1
        record.result_bytes = len(canonical_json(shaped).encode())
        provenance = Provenance(
            info.capability.name, info.tool.name, info.tool.upstream, call.retrieved
        )
        call.envelope = envelope(
            shaped,
            provenance,
            record.cached,
            info.untrusted,
            call.partial or cut,
            record.request_id or "",
        )

    # -- helpers of the stages -----------------------------------------------------------------

    def _deny(self, record: AuditRecord, decision: Decision) -> GatewayError:
        record.decision = "deny"
        record.rule_id = decision.rule_id
        record.reasons = [str(r) for r in decision.reasons]
        record.policy_version = decision.policy_version
        if Reason.KILL_SWITCH in decision.reasons or Reason.MAINTENANCE in decision.reasons:
            return Unavailable(decision.message or None)
        return Denied(decision.message or None)

    def _shadow(self, record: AuditRecord, req: CallRequest, live: Decision) -> None:
        """The shadow set's decision of the same request; a disagreement is noted, not enforced."""
        shadow = self.shadow.current if self.shadow is not None else None
        if shadow is None:
            return
        try:
            theirs = evaluate(req, shadow)
            kind = decision_change(live, theirs)
        except Exception as exc:  # the shadow set never affects a call
            self._log_defect("shadow decision failed", exc)
            return
        if kind is None:
            return
        record.notes["shadow"] = {
            "change": str(kind),
            "decision": "allow" if theirs.allowed else "deny",
            "rule_id": theirs.rule_id,
            "reasons": [str(r) for r in theirs.reasons],
            "policy_version": shadow.version,
        }
        self.telemetry.record_shadow_disagreement(req.tool if req.capability else "(unknown)", kind)

    async def _invoke(
        self, tool: Tool[Any, Any], args: BaseModel, ctx: ToolContext, deadline: float
    ) -> _Result:
        retrieved = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        try:
            with self.telemetry.stage("labgate.tool", tool=tool.name):
                result = await asyncio.wait_for(tool.handler(args, ctx), deadline)
        except TimeoutError:
            raise ToolTimeout(internal=f"{tool.name}: no result within {deadline} s") from None
        except GatewayError:
            raise
        except Exception as exc:
            self._log_defect(f"tool {tool.name} failed", exc)
            raise GatewayError(internal=f"{tool.name}: {type(exc).__name__}") from None
        if not isinstance(result, tool.output_model):
            raise GatewayError(internal=f"{tool.name} returned {type(result).__name__}")
        return result.model_dump(mode="json"), ctx.partial, retrieved

    def _scrub(self, record: AuditRecord, output: dict[str, Any]) -> dict[str, Any]:
        """``output`` without any configured secret; a hit is noted and logged (labels only)."""
        clean, found = self.scrubber.scan(output)
        if found:
            record.notes["secret_redacted"] = found
            log.warning(
                "call %s to %s: the result carried a configured secret (%s); redacted",
                record.request_id,
                record.tool,
                ", ".join(found),
            )
        result: dict[str, Any] = clean
        return result

    def _log_defect(self, what: str, exc: Exception) -> None:
        """An unexpected exception: its class, scrubbed message and frames, for operators."""
        frames = "".join(traceback.format_tb(exc.__traceback__))
        message = self.scrubber.text(str(exc))[:CAUSE_MAX]
        log.error("%s: %s: %s\n%s", what, type(exc).__name__, message, frames.rstrip())


#: One stage: fills in the call or raises; an async stage returns an awaitable.
Stage = Callable[[Stages, Call], Awaitable[None] | None]

#: Every call passes these, in this order (every face, one path).
STAGES: tuple[Stage, ...] = (
    Stages.authenticate,
    Stages.read_arguments,
    Stages.resolve_tool,
    Stages.decide,
    Stages.bind_arguments,
    Stages.decide_with_arguments,
    Stages.rate_limit,
    Stages.execute,
    Stages.shape_result,
)
