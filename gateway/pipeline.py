"""One call, for every face (REST and MCP):

    authenticate -> decide -> validate/constrain arguments -> rate limit
    -> cache / single-flight -> run with timeout -> shape -> audit -> answer

Every call produces exactly one audit record, written here and made durable before the answer
(or the error) leaves. If the record cannot be written the call fails with 503.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from gateway.audit.record import AuditRecord, canonical_json
from gateway.auth import Authenticator
from gateway.cache import ResultCache
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
from gateway.limits import Limiter
from gateway.policy.evaluate import CallRequest, Decision, evaluate
from gateway.policy.loader import PolicySet
from gateway.policy.model import Limits
from gateway.policy.reasons import Reason
from gateway.policy.store import PolicyStore
from gateway.registry import Registry
from gateway.shaping import HARD_CEILING, Shape, shape, untrusted_paths
from gateway.telemetry import Telemetry, current_trace_id

__all__ = ["AuditWriter", "CallOutcome", "Pipeline"]

log = logging.getLogger("labgate.pipeline")


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


def _validation_errors(exc: ValidationError) -> list[dict[str, object]]:
    # Never echo the input back: location and message only.
    errors: list[dict[str, object]] = []
    for e in exc.errors(include_input=False, include_url=False)[:20]:
        errors.append(
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]}
        )
    return errors


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
        self.limiter = Limiter()
        self.cache: ResultCache[tuple[dict[str, Any], bool, str]] = ResultCache()
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

    async def authenticate(self, headers: Mapping[str, str], client_host: str | None) -> Principal:
        return await self.authenticator.authenticate(headers, client_host)

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
        started = time.perf_counter()
        record = AuditRecord(
            kind="call",
            request_id=request_id or secrets.token_hex(16),
            face=face,
            tool=tool_name[:64],
        )
        try:
            with self.telemetry.span("labgate.call", tool=tool_name, face=face):
                record.trace_id = current_trace_id()
                try:
                    envelope = await self._run(
                        record, headers, client_host, raw_args, principal, capability
                    )
                except (GatewayError, asyncio.CancelledError):
                    raise
                except Exception as exc:  # a defect here must still deny, audited
                    log.exception("pipeline failure: %s", type(exc).__name__)
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
            if record.decision == "allow":
                record.decision = "error"
            if isinstance(exc, UpstreamFailure):
                record.upstream = exc.upstream
            record.latency_ms = (time.perf_counter() - started) * 1000
            await self._write(record)
            self._observe(record)
            raise
        record.latency_ms = (time.perf_counter() - started) * 1000
        await self._write(record)
        self._observe(record)
        return CallOutcome(envelope, record)

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
            await self.audit.write(record)
        except AuditUnavailable:
            raise
        except Exception as exc:
            log.error("audit write failed: %s", type(exc).__name__)
            raise AuditUnavailable() from None

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
        first = evaluate(CallRequest(principal, cap_name, record.tool or "", None, now), policy_set)
        if not first.allowed:
            denial = self._deny(record, first)
            if info is None:  # not a tool here: say so in the audit log, never to the agent
                record.reasons = [str(Reason.UNKNOWN_TOOL)]
            raise denial
        assert info is not None  # an unknown tool is never allowed

        # 3. validate, then constrain arguments
        if not isinstance(raw_args, dict):
            record.decision, record.reasons = "deny", [str(Reason.INVALID_ARGUMENTS)]
            raise InvalidArguments("The request body must be a JSON object of arguments.")
        fields = info.tool.args_model.model_fields
        # Strict exports make optional arguments nullable: null means "use the default".
        raw_args = {
            k: v
            for k, v in raw_args.items()
            if not (v is None and k in fields and not fields[k].is_required())
        }
        try:
            args = info.tool.args_model.model_validate(raw_args)
        except ValidationError as exc:
            record.decision, record.reasons = "deny", [str(Reason.INVALID_ARGUMENTS)]
            raise InvalidArguments(errors=_validation_errors(exc)) from None
        arg_values = args.model_dump(mode="json")
        decision = evaluate(
            CallRequest(principal, cap_name, info.tool.name, arg_values, now), policy_set
        )
        obligations = decision.obligations
        record.arguments = _redact(arg_values, decision.redact)
        if not decision.allowed or obligations is None:
            raise self._deny(record, decision)
        record.decision, record.rule_id = "allow", decision.rule_id
        record.reasons = [str(r) for r in decision.reasons]

        # 4. rate limits: the global per-principal limit, then the rule's own
        self._rate_limit(record, principal, policy_set, obligations)

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
        record.notes.update(ctx.notes)
        record.upstream = info.tool.upstream

        # 7. shape
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
        envelope = {
            "result": shaped,
            "provenance": {
                "capability": cap_name,
                "tool": info.tool.name,
                "upstream": info.tool.upstream,
                "retrieved_at": retrieved,
                "cached": record.cached,
            },
            "untrusted": info.untrusted,
            "partial": partial or cut,
            "request_id": record.request_id,
        }
        record.result_bytes = len(canonical_json(shaped).encode())
        return envelope

    def _rate_limit(
        self, record: AuditRecord, principal: Principal, policy_set: PolicySet, obligations: Any
    ) -> None:
        now = time.monotonic()
        checks: list[tuple[tuple[str, ...], Limits]] = []
        if policy_set.global_policy.limits is not None:
            checks.append((("*", principal.sub), policy_set.global_policy.limits))
        if obligations.limits is not None:
            key = (record.capability or "", obligations.rule_id or "", principal.sub)
            checks.append((key, obligations.limits))
        for bucket, limits in checks:
            per_second = limits.count / limits.period_seconds
            wait = self.limiter.take(bucket, per_second, limits.burst or limits.count, now)
            if wait is not None:
                record.decision = "deny"
                record.reasons = [str(Reason.RATE_LIMITED)]
                raise RateLimited(wait)

    async def _invoke(
        self, tool: Tool[Any, Any], args: BaseModel, ctx: ToolContext, deadline: float
    ) -> tuple[dict[str, Any], bool, str]:
        retrieved = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        try:
            with self.telemetry.span("labgate.tool", tool=tool.name):
                result = await asyncio.wait_for(tool.handler(args, ctx), deadline)
        except TimeoutError:
            raise ToolTimeout() from None
        except GatewayError:
            raise
        except Exception as exc:
            log.exception("tool %s failed: %s", tool.name, type(exc).__name__)
            raise GatewayError(internal=f"{tool.name}: {type(exc).__name__}") from None
        if not isinstance(result, tool.output_model):
            raise GatewayError(internal=f"{tool.name} returned {type(result).__name__}")
        return result.model_dump(mode="json"), ctx.partial, retrieved
