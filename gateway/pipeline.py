"""One call, for every face (REST and MCP):

    authenticate -> decide -> validate/constrain arguments -> rate limit
    -> cache / single-flight -> run with timeout -> scrub secrets -> shape -> audit -> answer

Every call produces exactly one audit record, written here and made durable before the answer
(or the error) leaves. If the record cannot be written the call fails with 503. A failure's
internal cause (the error's ``internal`` text, the upstream status, the tool's notes) goes to
the audit record and one log line, scrubbed of secrets; the agent sees only the stable code.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from gateway.arguments import parse_arguments
from gateway.audit.record import AuditRecord, canonical_json
from gateway.auth import Authenticator
from gateway.cache import CallCache, ResultCache
from gateway.capability import Capability, Principal, Resources, Tool, ToolContext
from gateway.errors import (
    AuditUnavailable,
    AuthError,
    Denied,
    GatewayError,
    InvalidArguments,
    RateLimited,
    ToolTimeout,
    Unavailable,
    UpstreamFailure,
)
from gateway.policy.evaluate import CallRequest, Decision, evaluate
from gateway.policy.outcome import decision_change
from gateway.policy.reasons import Reason
from gateway.policy.shadow import ShadowStore
from gateway.policy.store import PolicyStore
from gateway.registry import Registry
from gateway.scrub import Scrubber
from gateway.shaping import HARD_CEILING, Provenance, Shape, envelope, shape, untrusted_paths
from gateway.shared.limits import LimitsUnavailable, SharedLimits
from gateway.telemetry import Telemetry, current_trace_id
from gateway.upstream.trail import follow

__all__ = ["AuditWriter", "CallOutcome", "Pipeline"]

log = logging.getLogger("labgate.pipeline")

#: Longest internal cause kept in an audit record.
CAUSE_MAX = 300


class AuditWriter(Protocol):
    """What the pipeline needs from the audit subsystem (gateway.audit.sink.AuditSink)."""

    async def write(self, record: AuditRecord) -> None: ...


@dataclass(slots=True)
class CallOutcome:
    envelope: dict[str, Any]
    record: AuditRecord


@dataclass(slots=True)
class _ToolInfo:
    capability: Capability
    tool: Tool[Any, Any]
    untrusted: list[str] = field(default_factory=list)


def _redact(args: Mapping[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any] | None:
    if args is None:
        return None
    return {k: ("[redacted]" if k in names else v) for k, v in args.items()}


class Pipeline:
    def __init__(
        self,
        *,
        registry: Registry,
        policies: PolicyStore,
        authenticator: Authenticator,
        audit: AuditWriter,
        telemetry: Telemetry,
        resources: Mapping[str, Resources],
        configs: Mapping[str, BaseModel],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scrubber: Scrubber | None = None,
        shadow: ShadowStore | None = None,
        limiter: SharedLimits | None = None,
        cache: CallCache[tuple[dict[str, Any], bool, str]] | None = None,
    ) -> None:
        self.registry = registry
        self.policies = policies
        self.authenticator = authenticator
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
        #: Rate limits: in Redis when the replicas share them, else this process's buckets.
        self.limiter = limiter or SharedLimits()
        self.cache: CallCache[tuple[dict[str, Any], bool, str]] = cache or ResultCache()
        self._tools = {
            t.name: _ToolInfo(cap, t, untrusted_paths(t.output_model))
            for cap, t in registry.all_tools()
        }

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
        raw_args: Any,
        face: str,
        principal: Principal | None = None,
        request_id: str | None = None,
        capability: str | None = None,
    ) -> CallOutcome:
        """Run one call through every stage. Raises GatewayError after auditing it."""
        record = AuditRecord(
            kind="call",
            request_id=request_id or secrets.token_hex(16),
            face=face,
            tool=tool_name[:64],
        )
        with self.telemetry.span("labgate.call", tool=tool_name, face=face):
            record.trace_id = current_trace_id()
            return await self._audited(
                record, headers, client_host, raw_args, principal, capability
            )

    async def _audited(
        self,
        record: AuditRecord,
        headers: Mapping[str, str],
        client_host: str | None,
        raw_args: Any,
        principal: Principal | None,
        capability: str | None,
    ) -> CallOutcome:
        """``_run`` with its one audit record written, whatever happens."""
        started = time.perf_counter()
        try:
            try:
                with follow() as trail:
                    try:
                        envelope = await self._run(
                            record, headers, client_host, raw_args, principal, capability
                        )
                    finally:
                        record.upstream_status = trail.status
            except (GatewayError, asyncio.CancelledError):
                raise
            except Exception as exc:  # a defect here must still deny, audited
                self._log_defect("pipeline failure", exc)
                raise GatewayError(internal=type(exc).__name__) from None
        except asyncio.CancelledError:
            # The caller went away (client disconnect, shutdown): the attempt is still audited.
            record.error_code = "cancelled"
            if record.decision == "allow":
                record.decision = "error"
            record.latency_ms = (time.perf_counter() - started) * 1000
            await asyncio.shield(self._write_quietly(record))
            raise
        except GatewayError as exc:
            record.error_code = record.error_code or exc.code
            failed = record.decision == "allow"
            if failed:
                record.decision = "error"
            if isinstance(exc, UpstreamFailure):
                record.upstream = exc.upstream
            self._keep_cause(record, exc, failed)
            record.latency_ms = (time.perf_counter() - started) * 1000
            await self._write(record)
            self._observe(record)
            raise
        record.latency_ms = (time.perf_counter() - started) * 1000
        await self._write(record)
        self._observe(record)
        return CallOutcome(envelope, record)

    def _keep_cause(self, record: AuditRecord, exc: GatewayError, failed: bool) -> None:
        """The internal cause to the audit record and (for a failed call) one log line."""
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

    def _log_defect(self, what: str, exc: Exception) -> None:
        """An unexpected exception: its class, scrubbed message and frames, for operators."""
        frames = "".join(traceback.format_tb(exc.__traceback__))
        message = self.scrubber.text(str(exc))[:CAUSE_MAX]
        log.error("%s: %s: %s\n%s", what, type(exc).__name__, message, frames.rstrip())

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

    def _deny(self, record: AuditRecord, decision: Decision) -> Denied:
        record.decision = "deny"
        record.rule_id = decision.rule_id
        record.reasons = [str(r) for r in decision.reasons]
        record.policy_version = decision.policy_version
        if Reason.KILL_SWITCH in decision.reasons or Reason.MAINTENANCE in decision.reasons:
            record.error_code = Unavailable.code
            raise Unavailable(decision.message or None)
        record.error_code = Denied.code
        return Denied(decision.message or None)

    async def _run(
        self,
        record: AuditRecord,
        headers: Mapping[str, str],
        client_host: str | None,
        raw_args: Any,
        principal: Principal | None,
        only_capability: str | None,
    ) -> dict[str, Any]:
        # 1. authenticate
        if principal is None:
            try:
                with self.telemetry.stage("labgate.authenticate"):
                    principal = await self.authenticator.authenticate(headers, client_host)
            except AuthError as exc:
                record.reasons = [str(Reason.UNAUTHENTICATED), exc.reason]
                raise
        record.sub, record.client_id = principal.sub, principal.client_id
        record.username, record.groups = principal.username, list(principal.groups)
        record.token_id = principal.token_id

        # 2. decide on the tool (arguments not yet trusted)
        policy_set = self.policies.current
        record.policy_version = policy_set.version
        now = self.clock()
        info = self._tools.get(record.tool or "")
        if info is not None and (
            info.capability.name not in self.resources
            or (only_capability is not None and info.capability.name != only_capability)
        ):
            # Off (not set up), or served by another mount: the same answer as an unknown tool.
            if only_capability is not None:
                record.notes["mount"] = only_capability
            info = None
        cap_name = info.capability.name if info else ""
        record.capability = cap_name or None
        tool_req = CallRequest(principal, cap_name, record.tool or "", None, now)
        with self.telemetry.stage("labgate.decide"):
            first = evaluate(tool_req, policy_set)
        if not first.allowed:
            self._shadow(record, tool_req, first)
            denial = self._deny(record, first)
            if info is None:  # not a tool here: say so in the audit log, never to the agent
                record.reasons = [str(Reason.UNKNOWN_TOOL)]
            raise denial
        assert info is not None  # an unknown tool is never allowed

        # 3. validate, then constrain arguments
        try:
            args = parse_arguments(info.tool.args_model, raw_args)
        except InvalidArguments:
            record.decision, record.reasons = "deny", [str(Reason.INVALID_ARGUMENTS)]
            raise
        arg_values = args.model_dump(mode="json")
        call_req = CallRequest(principal, cap_name, info.tool.name, arg_values, now)
        decision = evaluate(call_req, policy_set)
        self._shadow(record, call_req, decision)
        obligations = decision.obligations
        record.arguments = _redact(arg_values, decision.redact)
        if not decision.allowed or obligations is None:
            raise self._deny(record, decision)
        record.decision, record.rule_id = "allow", decision.rule_id
        record.reasons = [str(r) for r in decision.reasons]

        # 4. rate limits: the global per-principal limit, then the rule's own
        try:
            wait = await self.limiter.check(
                [
                    (("*", principal.sub), policy_set.global_policy.limits),
                    ((cap_name, obligations.rule_id or "", principal.sub), obligations.limits),
                ],
                time.monotonic(),
            )
        except LimitsUnavailable:  # a limit that fails closed could not be checked
            record.decision, record.reasons = "deny", [str(Reason.LIMITS_UNAVAILABLE)]
            raise
        if wait is not None:
            record.decision, record.reasons = "deny", [str(Reason.RATE_LIMITED)]
            raise RateLimited(wait)

        # 5-6. cache / single-flight, run with timeout
        scope = obligations.scope
        ctx = ToolContext(
            principal=principal,
            request_id=record.request_id or "",
            now=now,
            scope=scope,
            config=self.configs[cap_name],
            clients=self.resources[cap_name].clients,
        )
        timeout = float(policy_set.global_policy.tool_timeout_seconds)
        ttl = float(obligations.cache_ttl or 0)

        async def run() -> tuple[dict[str, Any], bool, str]:
            return await self._invoke(info.tool, args, ctx, timeout)

        record.upstream = info.tool.upstream
        try:
            if ttl > 0:
                key = canonical_json(
                    [info.tool.name, arg_values, scope.model_dump(mode="json") if scope else None]
                )
                (output, partial, retrieved), outcome = await self.cache.get_or_run(
                    key, ttl, time.monotonic, run
                )
                record.cached = outcome != "miss"
                self.telemetry.record_cache(info.tool.name, outcome)
            else:
                output, partial, retrieved = await run()
        finally:  # the tool's notes are kept on error paths too
            record.notes.update(self.scrubber.scan(ctx.notes)[0])
        output = self._scrub(record, output)

        # 7. shape, and wrap in the envelope
        rule = obligations.result
        shape_rule = Shape(
            fields=tuple(rule.fields) if rule and rule.fields is not None else None,
            truncate=tuple((rule.truncate or {}).items()) if rule else (),
            max_items=rule.max_items if rule else None,
            max_chars=min(policy_set.global_policy.max_result_chars, HARD_CEILING),
        )
        shaped, cut = shape(output, shape_rule)
        items = shaped.get("items")
        record.result_count = len(items) if isinstance(items, list) else 1
        record.result_bytes = len(canonical_json(shaped).encode())
        provenance = Provenance(cap_name, info.tool.name, info.tool.upstream, retrieved)
        return envelope(
            shaped,
            provenance,
            record.cached,
            info.untrusted,
            partial or cut,
            record.request_id or "",
        )

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

    async def _invoke(
        self, tool: Tool[Any, Any], args: BaseModel, ctx: ToolContext, deadline: float
    ) -> tuple[dict[str, Any], bool, str]:
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
