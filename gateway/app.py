"""``create_app(settings)``: the agent-facing FastAPI app, and the Runtime its lifespan owns.

The Runtime builds every client, sink and background task on entry and closes them on exit;
nothing lives at module level. The operator app (/healthz, /readyz, /metrics) shares the
Runtime but listens on its own port (see ``gateway.api.ops``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from gateway import __version__
from gateway.api import rest
from gateway.api.fastpath import ToolCallFastPath
from gateway.api.mcp import mcp_lifespan, mount_mcp
from gateway.api.openapi import build_openapi
from gateway.api.wellknown import add_wellknown_routes
from gateway.audit.journal import Journal
from gateway.audit.lock import JournalLocked
from gateway.audit.postgres import PostgresSink
from gateway.audit.record import AuditRecord
from gateway.audit.sink import AuditSink
from gateway.auth import Authenticator, build_authenticator
from gateway.auth.failures import AuthFailureAudit
from gateway.auth.gate import AuthGate
from gateway.capability import Capability, Resources, SetupContext
from gateway.errors import ConfigError, PolicyError
from gateway.pipeline import Pipeline
from gateway.policy.shadow import ShadowStore
from gateway.policy.store import PolicyStore, ReloadEvent
from gateway.registry import Registry, load_registry, registry_for
from gateway.scrub import Scrubber
from gateway.secrets import service_secrets
from gateway.settings import Settings
from gateway.shared import Peers, SharedCache, SharedLimits, SharedStore
from gateway.telemetry import ReplicaFacts, Telemetry
from gateway.upstream import Upstreams

__all__ = ["Runtime", "create_app"]

log = logging.getLogger("labgate")


def validate_capability_configs(settings: Settings, registry: Registry) -> dict[str, BaseModel]:
    unknown = sorted(set(settings.capabilities) - set(registry))
    if unknown:
        raise ConfigError(f"unknown capability {unknown[0]!r}", key=f"capabilities.{unknown[0]}")
    configs: dict[str, BaseModel] = {}
    for name, cap in registry.items():
        try:
            configs[name] = cap.config_model.model_validate(settings.capabilities.get(name, {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            key = f"capabilities.{name}" + (f".{loc}" if loc else "")
            raise ConfigError(f"invalid setting {key}: {first['msg']}", key=key) from None
    return configs


class Runtime:
    """Everything one gateway process owns, opened and closed as a unit."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clock = clock
        self.settings = settings
        self.registry = registry
        self.configs = validate_capability_configs(settings, registry)
        self.telemetry = Telemetry(settings.telemetry)
        self.telemetry.set_replica_source(self.replica_facts)
        self.ready = False
        self._sighup = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resources: dict[str, Resources] = {}
        self.shipper: PostgresSink | None = None
        self.upstreams: Upstreams | None = None
        self.journal: Journal | None = None
        self.policies: PolicyStore | None = None
        self.shadow: ShadowStore | None = None
        self.authenticator: Authenticator | None = None
        #: This replica's name, stamped in every audit record.
        self.replica = settings.replica.resolved_id()
        #: Redis, when the replicas share limits, cache and status (``redis`` setting).
        self.shared: SharedStore | None = None
        self.limiter: SharedLimits | None = None
        self.peers: Peers | None = None
        self._pipeline: Pipeline | None = None
        self._gate: AuthGate | None = None
        base = settings.agent_base_url()
        self.resource_metadata_url = f"{base}/.well-known/oauth-protected-resource"

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("runtime not started")
        return self._pipeline

    @property
    def gate(self) -> AuthGate:
        """Every face authenticates through it (throttled, rejections audited)."""
        if self._gate is None:
            raise RuntimeError("runtime not started")
        return self._gate

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_reload(self, event: ReloadEvent) -> None:
        self.telemetry.record_policy_reload("ok" if event.ok else "failed")
        record = AuditRecord(
            kind="policy_reload",
            decision="ok" if event.ok else "failed",
            policy_version=event.version,
            reasons=[] if event.ok else ["policy-error"],
            notes={"trigger": event.trigger, **({"error": event.error} if event.error else {})},
        )
        if event.ok:
            log.info("policy set %s in force", event.version)
            if event.changed and self.peers is not None and event.trigger != "start":
                self.spawn(self.peers.announce(event.version), "policy-announce")
        else:
            log.error("policy reload refused, last good set kept: %s", event.error)
        if self._pipeline is not None:
            self.spawn(self._audit_reload(record), "audit-reload")
        if self.shadow is not None and event.trigger != "start":
            self.shadow.reload(event.trigger)  # the shadow set follows the live one

    def _on_shadow_reload(self, event: ReloadEvent) -> None:
        record = AuditRecord(
            kind="policy_reload",
            decision="ok" if event.ok else "failed",
            policy_version=event.version,
            reasons=[] if event.ok else ["policy-error"],
            notes={
                "trigger": event.trigger,
                "set": "shadow",
                **({"error": event.error} if event.error else {}),
            },
        )
        if event.ok:
            log.info("shadow policy set %s (not enforced)", event.version)
        else:
            log.error("shadow policy reload refused, last good shadow set kept: %s", event.error)
        if self._pipeline is not None:
            self.spawn(self._audit_reload(record), "audit-reload")

    def reload_all(self) -> None:
        """SIGHUP: reload the policy set and every reloadable tool source."""
        if self.policies is not None:
            self.spawn(self.policies.reload_settled("sighup"), "policy-sighup")
        for source in self.registry.reloadable:
            source.reload()

    def _on_tools_reload(self, event: Any) -> None:
        ok = bool(getattr(event, "ok", False))
        error = getattr(event, "error", None)
        self.telemetry.record_policy_reload("ok" if ok else "failed")
        record = AuditRecord(
            kind="policy_reload",
            decision="ok" if ok else "failed",
            policy_version=self.policies.current.version if self.policies else None,
            reasons=[] if ok else ["policy-error"],
            notes={"source": "declarative", **({"error": error} if error else {})},
        )
        if not ok:
            log.error("declarative tools reload refused, last good set kept: %s", error)
        if self._pipeline is not None:
            self.spawn(self._audit_reload(record), "audit-reload")

    async def _audit_reload(self, record: AuditRecord) -> None:
        try:
            await self.pipeline.audit.write(record)
        except Exception:
            log.exception("could not audit a policy reload")

    async def __aenter__(self) -> Runtime:
        s = self.settings
        try:
            self.policies = PolicyStore(s.policy_dir, self.registry, on_reload=self._on_reload)
        except PolicyError as exc:
            raise ConfigError(f"policies not loadable: {exc}", key="policy_dir") from None
        self.shadow = ShadowStore(s.policy_dir, self.registry, on_reload=self._on_shadow_reload)
        self.journal = Journal(s.journal_path)
        try:
            await self.journal.open()
        except JournalLocked as exc:
            self.journal = None
            raise ConfigError(str(exc), key="journal_path") from None
        sink = AuditSink(self.journal, replica=self.replica)
        if s.postgres is not None:
            self.shipper = PostgresSink(
                s.postgres.resolved_dsn(),
                self.journal,
                batch_size=s.postgres.batch_size,
                ship_timeout=s.postgres.ship_timeout_seconds,
            )
            await self.shipper.start()
            shipper = self.shipper
            self.telemetry.set_audit_lag_source(lambda: shipper.lag)
        self.upstreams = Upstreams(s.upstreams, telemetry=self.telemetry)
        self.upstreams.build_all()  # a bad secret or CA file fails at start, not on first use
        self.authenticator = build_authenticator(s.auth, bind_host=s.listen.host)
        await self.authenticator.start()
        self._gate = AuthGate(
            self.authenticator,
            AuthFailureAudit(sink),
            s.auth.throttle,
            telemetry=self.telemetry,
        )
        wanted = set(s.capabilities) | set(self.policies.current.capabilities)
        for name, cap in self.registry.items():
            if not (s.sample_data or name in wanted):
                continue  # neither configured nor governed: off, nothing to set up
            self._resources[name] = await cap.setup(
                SetupContext(config=self.configs[name], sample=s.sample_data, http=self._http(cap))
            )
        cache = await self._start_shared()
        self._pipeline = Pipeline(
            registry=self.registry,
            policies=self.policies,
            authenticator=self.authenticator,
            audit=sink,
            telemetry=self.telemetry,
            resources=self._resources,
            configs=self.configs,
            clock=self.clock,
            scrubber=Scrubber([*service_secrets(s), *self.upstreams.secrets()]),
            shadow=self.shadow,
            limiter=self.limiter,
            cache=cache,
        )
        await sink.write(
            AuditRecord(
                kind="policy_reload",
                decision="ok",
                policy_version=self.policies.current.version,
                notes={"trigger": "start"},
            )
        )
        self.shadow.reload("start")  # audited now that the pipeline exists
        for source in self.registry.reloadable:
            source.listen(self._on_tools_reload)
        if self.peers is not None:
            self.spawn(self.peers.run(), "replica-heartbeat")
            self.spawn(self.peers.listen(), "policy-broadcast")
        if s.watch_policies:
            self.spawn(self.policies.watch(), "policy-watch")
            self.spawn(self.shadow.watch(), "shadow-policy-watch")
            for source in self.registry.reloadable:
                self.spawn(source.watch(), "tools-watch")
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload_all)
            self._sighup = True
        except (RuntimeError, ValueError):  # not the main thread (embedded servers, tests)
            log.info("SIGHUP reload not installed: not running in the main thread")
        self.ready = True
        return self

    async def _start_shared(self) -> SharedCache[tuple[dict[str, Any], bool, str]] | None:
        """Redis for limits, cache and replica status, when configured (never fails on it)."""
        self.limiter = SharedLimits()
        if self.settings.redis is None:
            return None
        self.shared = SharedStore(self.settings.redis)
        await self.shared.start()
        self.limiter = SharedLimits(self.shared)
        policies = self.policies
        assert policies is not None

        def status() -> tuple[str, bool]:
            return policies.current.version, policies.current.global_policy.kill_switch

        async def heard(version: str) -> None:
            await policies.reload_settled("broadcast")

        self.peers = Peers(self.shared, self.replica, status, heard)
        return SharedCache(self.shared, _encode_result, _decode_result)

    def replica_facts(self) -> ReplicaFacts:
        """For /metrics: this replica, its policy, Redis and the peers' policy versions."""
        version = self.policies.current.version if self.policies is not None else ""
        peers = self.peers.versions if self.peers is not None else {}
        return ReplicaFacts(
            replica=self.replica,
            policy_version=version,
            policy_versions=len(peers) if peers else 1,
            redis_up=self.shared.up if self.shared is not None else None,
            fallbacks=dict(self.limiter.fallbacks) if self.limiter is not None else {},
        )

    def _http(self, cap: Capability) -> Callable[[str], Any]:
        def get(name: str) -> Any:
            assert self.upstreams is not None
            if name not in self.settings.upstreams:
                raise ConfigError(
                    f"capability {cap.name} needs upstream {name!r}, which is not configured",
                    key=f"upstreams.{name}",
                )
            return self.upstreams.get(name)

        return get

    async def __aexit__(self, *exc: object) -> None:
        self.ready = False
        if self._sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for res in self._resources.values():
            if res.close is not None:
                await res.close()
        if self._gate is not None:
            await self._gate.aclose()  # pending failure counts, before the journal closes
        if self.shipper is not None:
            await self.shipper.stop()
        if self.authenticator is not None:
            await self.authenticator.aclose()
        if self.upstreams is not None:
            await self.upstreams.aclose()
        if self.journal is not None:
            await self.journal.close()
        if self.shared is not None:
            await self.shared.stop()
        self.telemetry.shutdown()


def _encode_result(value: tuple[dict[str, Any], bool, str]) -> list[Any]:
    return list(value)


def _decode_result(value: Any) -> tuple[dict[str, Any], bool, str]:
    output, partial, retrieved = value
    return dict(output), bool(partial), str(retrieved)


def create_app(
    settings: Settings,
    *,
    registry: Registry | None = None,
    extra: list[Capability] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The agent-facing app. ``clock`` fixes the wall clock policies see (tests)."""
    if registry is None:
        registry = load_registry(settings.extra_capabilities, include=extra) if extra else None
    registry = registry or registry_for(settings)
    runtime = Runtime(settings, registry, clock) if clock else Runtime(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await runtime.__aenter__()
        except ConfigError as exc:
            log.error("configuration error: %s", exc.detail, extra={"key": exc.key})
            await runtime.__aexit__(None, None, None)
            raise
        try:
            if settings.mcp.enabled:
                async with mcp_lifespan(app):
                    yield
            else:
                yield
        finally:
            await runtime.__aexit__(None, None, None)

    app = FastAPI(
        title="labgate",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    app.add_middleware(ToolCallFastPath)
    if settings.mcp.enabled:
        mount_mcp(app, runtime)
    app.include_router(rest.router)
    tools = [t for _, t in registry.all_tools()]
    rest.add_tool_routes(app, [t.name for t in tools])
    add_wellknown_routes(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, tools, __version__)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
