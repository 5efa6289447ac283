"""The Runtime: everything one gateway process owns, opened and closed as a unit.

It builds every client, sink and background task on entry and closes them on exit; nothing
lives at module level. The faces (gateway/api/) never import it: they see it through the
narrow :class:`~gateway.api.port.GatewayPort` it satisfies. ``create_app`` (gateway/app.py)
builds one and hands it to the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.approvals.runtime import Approvals
from gateway.audit.journal import Journal
from gateway.audit.lock import JournalLocked
from gateway.audit.postgres import PostgresSink
from gateway.audit.record import AuditRecord
from gateway.audit.sink import AuditSink
from gateway.auth import Authenticator, build_authenticator
from gateway.auth.failures import AuthFailureAudit
from gateway.auth.gate import AuthGate
from gateway.capability import Capability, Resources, SampleClients, SetupContext
from gateway.cursor import cursor_codec
from gateway.errors import ConfigError, PolicyError
from gateway.pipeline import Pipeline
from gateway.policy.shadow import ShadowStore
from gateway.policy.store import PolicyStore, ReloadEvent
from gateway.registry import Registry
from gateway.scrub import Scrubber
from gateway.secrets import service_secrets
from gateway.settings import Settings
from gateway.telemetry import Telemetry
from gateway.upstream import Upstreams

__all__ = ["Runtime", "validate_capability_configs"]

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
        self.ready = False
        self._sighup = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resources: dict[str, Resources] = {}
        #: Clients over capability sample data (demo mode), closed with the runtime.
        self._samples = SampleClients()
        #: Seals the page cursors tools hand out (``cursor_key_file`` or a per-process key).
        self.cursors = cursor_codec(settings.cursor_key_file)
        self.shipper: PostgresSink | None = None
        self.upstreams: Upstreams | None = None
        self.journal: Journal | None = None
        self.policies: PolicyStore | None = None
        self.shadow: ShadowStore | None = None
        self.authenticator: Authenticator | None = None
        self._pipeline: Pipeline | None = None
        self._gate: AuthGate | None = None
        #: Proposals of write tools and the approvals room (gateway/approvals/).
        self.approvals: Approvals | None = None
        base = settings.agent_base_url()
        self.resource_metadata_url = f"{base}/.well-known/oauth-protected-resource"

    @property
    def pipeline(self) -> Pipeline:
        """Authentication, tool list and call, for every face (see gateway/api/port.py)."""
        if self._pipeline is None:
            raise RuntimeError("runtime not started")
        return self._pipeline

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
        else:
            log.error("policy reload refused, last good set kept: %s", event.error)
        if self._pipeline is not None:
            self.spawn(self._audit_reload(record), "audit-reload")
        if self.approvals is not None and self.policies is not None:
            self.approvals.on_reload(event, self.policies.current, self.spawn)
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
        source = str(getattr(event, "source", "declarative"))
        extra = getattr(event, "notes", None)
        self.telemetry.record_policy_reload("ok" if ok else "failed")
        record = AuditRecord(
            kind="policy_reload",
            decision="ok" if ok else "failed",
            policy_version=self.policies.current.version if self.policies else None,
            reasons=[] if ok else ["policy-error"],
            notes={
                "source": source,
                **(extra if isinstance(extra, dict) else {}),
                **({"error": error} if error else {}),
            },
        )
        if not ok:
            log.error("%s tools reload refused, last good set kept: %s", source, error)
        if self._pipeline is not None:
            self.spawn(self._audit_reload(record), "audit-reload")

    async def _audit_reload(self, record: AuditRecord) -> None:
        try:
            await self.pipeline.audit.write(record)
        except Exception:
            log.exception("could not audit a policy reload")

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready to serve? With the checks an operator reads on ``/readyz``."""
        checks: dict[str, Any] = {}
        ok = self.ready
        checks["started"] = self.ready
        if self.policies is not None:
            store = self.policies
            checks["policy"] = {
                "version": store.current.version,
                "last_error": store.last_error,
                "last_error_at": store.last_error_at.isoformat() if store.last_error_at else None,
                "reload_failures": store.reload_failures,
            }
            # The last good set stays in force, but an operator must see the refused edit.
            ok = ok and store.last_error is None
        for source in self.registry.reloadable:
            entry: dict[str, Any] = {"last_error": source.last_error}
            status = getattr(source, "status", None)  # e.g. a fronted MCP server's connection
            if callable(status):
                entry.update(status())
            checks.setdefault("tools", []).append(entry)
            ok = ok and source.last_error is None
        if self.journal is not None:
            writable = await self.journal.check()
            checks["journal"] = {"writable": writable}
            ok = ok and writable
        if self.shipper is not None:
            checks["postgres"] = {"lag": self.shipper.lag, "last_error": self.shipper.last_error}
        if self.upstreams is not None:
            checks["upstreams"] = self.upstreams.breaker_states()
        if self.approvals is not None and self.approvals.link is not None:
            # Informative: reads and proposals go on while the room is away.
            checks["approvals_room"] = self.approvals.link.state
        return ok, checks

    async def __aenter__(self) -> Runtime:
        """Open everything, in order: policies, audit, upstreams, identity, capabilities,
        the pipeline over them, then the watchers."""
        self._open_policies()
        sink = await self._open_audit()
        self.upstreams = Upstreams(self.settings.upstreams, telemetry=self.telemetry)
        self.upstreams.build_all()  # a bad secret or CA file fails at start, not on first use
        gate = await self._open_identity(sink)
        await self._set_up_capabilities()
        assert self.policies is not None and self.shadow is not None
        self.approvals = Approvals(
            self.settings,
            self.registry,
            self.policies,
            self._resources,
            self.configs,
            sink,
            self.clock,
        )
        await self.approvals.open(self.upstreams, self.spawn)
        self._pipeline = Pipeline(
            registry=self.registry,
            policies=self.policies,
            gate=gate,
            audit=sink,
            telemetry=self.telemetry,
            resources=self._resources,
            configs=self.configs,
            clock=self.clock,
            scrubber=Scrubber(
                [
                    *service_secrets(self.settings),
                    *self.upstreams.secrets(),
                    *(pair for res in self._resources.values() for pair in res.secrets),
                ]
            ),
            shadow=self.shadow,
            cursors=self.cursors,
            proposals=self.approvals.desk,
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
        self._start_watchers()
        self.ready = True
        return self

    def _open_policies(self) -> None:
        s = self.settings
        try:
            self.policies = PolicyStore(s.policy_dir, self.registry, on_reload=self._on_reload)
        except PolicyError as exc:
            raise ConfigError(f"policies not loadable: {exc}", key="policy_dir") from None
        self.shadow = ShadowStore(s.policy_dir, self.registry, on_reload=self._on_shadow_reload)

    async def _open_audit(self) -> AuditSink:
        s = self.settings
        self.journal = Journal(s.journal_path)
        try:
            await self.journal.open()
        except JournalLocked as exc:
            self.journal = None
            raise ConfigError(str(exc), key="journal_path") from None
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
        return AuditSink(self.journal)

    async def _open_identity(self, sink: AuditSink) -> AuthGate:
        s = self.settings
        self.authenticator = build_authenticator(
            s.auth, bind_host=s.listen.host, telemetry=self.telemetry
        )
        await self.authenticator.start()
        self._gate = AuthGate(
            self.authenticator, AuthFailureAudit(sink), s.auth.throttle, telemetry=self.telemetry
        )
        return self._gate

    async def _set_up_capabilities(self) -> None:
        s = self.settings
        assert self.policies is not None
        wanted = set(s.capabilities) | set(self.policies.current.capabilities)
        for name, cap in self.registry.items():
            if not (s.sample_data or name in wanted):
                continue  # neither configured nor governed: off, nothing to set up
            self._resources[name] = await cap.setup(
                SetupContext(
                    config=self.configs[name],
                    sample=s.sample_data,
                    http=self._http(cap),
                    sample_http=self._samples,
                )
            )

    def _start_watchers(self) -> None:
        assert self.policies is not None and self.shadow is not None
        for source in self.registry.reloadable:
            source.listen(self._on_tools_reload)
        if self.settings.watch_policies:
            self.spawn(self.policies.watch(), "policy-watch")
            self.spawn(self.shadow.watch(), "shadow-policy-watch")
            for source in self.registry.reloadable:
                self.spawn(source.watch(), "tools-watch")
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload_all)
            self._sighup = True
        except (RuntimeError, ValueError):  # not the main thread (embedded servers, tests)
            log.info("SIGHUP reload not installed: not running in the main thread")

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
        await self._samples.aclose()
        if self.approvals is not None:
            await self.approvals.close()
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
        self.telemetry.shutdown()
