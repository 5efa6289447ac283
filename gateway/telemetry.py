"""Metrics and traces of one labgate app: no globals, one :class:`Telemetry` per app.

Metrics go through an OpenTelemetry ``MeterProvider`` whose Prometheus reader is bound to the
app's own ``prometheus_client`` registry (two apps in one process never clash); ``render()``
serves ``/metrics``. Spans come from the app's own ``TracerProvider``; they are exported over
OTLP/HTTP only when ``otlp_endpoint`` is set, but always carry trace ids for the audit record.

Labels are fixed, low-cardinality names; no metric or span ever carries a URL query string,
a header or an upstream body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from gateway.settings import TelemetrySettings

__all__ = [
    "DURATION_BUCKETS",
    "METRIC_NAMES",
    "ReplicaFacts",
    "Telemetry",
    "TelemetrySettings",
    "current_trace_id",
]

log = logging.getLogger(__name__)

#: Seconds; from 0.5 ms (a cached or denied call) to 30 s (a slow upstream at its deadline).
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

#: Every metric family labgate exports, as Prometheus shows it.
METRIC_NAMES = (
    "labgate_calls_total",
    "labgate_call_duration_seconds",
    "labgate_denials_total",
    "labgate_upstream_requests_total",
    "labgate_upstream_duration_seconds",
    "labgate_breaker_open",
    "labgate_policy_reloads_total",
    "labgate_audit_lag_records",
    "labgate_rate_limited_total",
    "labgate_cache_total",
    "labgate_edge_refusals_total",
    "labgate_shadow_disagreements_total",
    "labgate_replica_info",
    "labgate_replica_policy_versions",
    "labgate_redis_up",
    "labgate_limit_fallbacks_total",
)

CacheResult = Literal["hit", "miss", "coalesced"]


@dataclass(frozen=True, slots=True)
class ReplicaFacts:
    """What /metrics tells of this replica; see :meth:`Telemetry.set_replica_source`."""

    replica: str
    policy_version: str
    #: Distinct policy versions among the live replicas (1 without Redis).
    policy_versions: int
    #: None without Redis.
    redis_up: bool | None
    #: Calls decided while Redis was away: ``deny`` (refused) and ``local`` (local bucket).
    fallbacks: Mapping[str, int]


def current_trace_id() -> str | None:
    """The 32-hex trace id of the active span, or ``None`` outside any span."""
    ctx = trace.get_current_span().get_span_context()
    return trace.format_trace_id(ctx.trace_id) if ctx.is_valid else None


class Telemetry:
    """The metric instruments, tracer and ``/metrics`` renderer of one app."""

    def __init__(self, settings: TelemetrySettings | None = None) -> None:
        self.settings = settings or TelemetrySettings()
        resource = Resource.create({"service.name": self.settings.service_name})
        self.registry = CollectorRegistry()
        reader = PrometheusMetricReader(registry=self.registry, scope_info_enabled=False)
        self._meters = MeterProvider(
            resource=resource, metric_readers=[reader], shutdown_on_exit=False
        )
        url = self.settings.traces_url()
        self._recording = url is not None or self.settings.record_spans
        # Without an exporter spans are not recorded (they cost CPU on every call), but they
        # still get trace ids, which the audit record carries.
        self._tracers = TracerProvider(
            resource=resource,
            shutdown_on_exit=False,
            sampler=ALWAYS_ON if self._recording else ALWAYS_OFF,
        )
        if url is not None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._tracers.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
        self._tracer = self._tracers.get_tracer("labgate")
        self._breaker_sources: list[Callable[[], Mapping[str, str]]] = []
        self._audit_lag: Callable[[], int] | None = None
        self._replica: Callable[[], ReplicaFacts] | None = None
        self._closed = False

        meter = self._meters.get_meter("labgate")
        self._calls = meter.create_counter(
            "labgate_calls_total", description="Tool calls by tool, decision and face."
        )
        self._call_duration = meter.create_histogram(
            "labgate_call_duration_seconds",
            unit="s",
            description="Tool call latency, end to end.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._denials = meter.create_counter(
            "labgate_denials_total", description="Denied calls by tool and reason."
        )
        self._upstream_requests = meter.create_counter(
            "labgate_upstream_requests_total",
            description="Upstream requests by upstream and status class or error kind.",
        )
        self._upstream_duration = meter.create_histogram(
            "labgate_upstream_duration_seconds",
            unit="s",
            description="Upstream request latency, body included.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._reloads = meter.create_counter(
            "labgate_policy_reloads_total", description="Policy reloads by result (ok, failed)."
        )
        for result in ("ok", "failed"):  # both series exist from the start, at 0
            self._reloads.add(0, {"result": result})
        self._rate_limited = meter.create_counter(
            "labgate_rate_limited_total", description="Calls refused by a rate limit, by tool."
        )
        self._cache = meter.create_counter(
            "labgate_cache_total", description="Result cache lookups by tool and result."
        )
        self._edge_refusals = meter.create_counter(
            "labgate_edge_refusals_total",
            description="Connections refused at the HTTP edge, by listener and code.",
        )
        self._shadow = meter.create_counter(
            "labgate_shadow_disagreements_total",
            description="Calls the shadow policy set decides otherwise, by tool and change.",
        )
        meter.create_observable_gauge(
            "labgate_breaker_open",
            callbacks=[self._observe_breakers],
            description="1 while an upstream's breaker is open or half-open, else 0.",
        )
        meter.create_observable_gauge(
            "labgate_replica_info",
            callbacks=[self._observe_replica_info],
            description="1, labelled with this replica's id and the policy version it enforces.",
        )
        meter.create_observable_gauge(
            "labgate_replica_policy_versions",
            callbacks=[self._observe_policy_versions],
            description="Policy versions in force across the live replicas (over 1: they differ).",
        )
        meter.create_observable_gauge(
            "labgate_redis_up",
            callbacks=[self._observe_redis_up],
            description="1 while the shared store (Redis) answers, else 0; absent without Redis.",
        )
        meter.create_observable_counter(
            "labgate_limit_fallbacks_total",
            callbacks=[self._observe_fallbacks],
            description="Calls whose limits were decided while Redis was away, by mode.",
        )
        meter.create_observable_gauge(
            "labgate_audit_lag_records",
            callbacks=[self._observe_audit_lag],
            description="Journal records not yet shipped to PostgreSQL.",
        )

    # -- recording ----------------------------------------------------------------------

    def record_call(self, tool: str, decision: str, face: str, seconds: float) -> None:
        self._calls.add(1, {"tool": tool, "decision": decision, "face": face})
        self._call_duration.record(seconds, {"tool": tool, "face": face})

    def record_denial(self, tool: str, reason: str) -> None:
        self._denials.add(1, {"tool": tool, "reason": reason})

    def record_upstream(self, upstream: str, status_class: str, seconds: float) -> None:
        self._upstream_requests.add(1, {"upstream": upstream, "status_class": status_class})
        self._upstream_duration.record(seconds, {"upstream": upstream})

    def record_policy_reload(self, result: Literal["ok", "failed"]) -> None:
        self._reloads.add(1, {"result": result})

    def record_rate_limited(self, tool: str) -> None:
        self._rate_limited.add(1, {"tool": tool})

    def record_cache(self, tool: str, result: CacheResult) -> None:
        self._cache.add(1, {"tool": tool, "result": result})

    def record_edge_refusal(self, listener: str, code: str) -> None:
        self._edge_refusals.add(1, {"listener": listener, "code": code})

    def record_shadow_disagreement(self, tool: str, change: str) -> None:
        self._shadow.add(1, {"tool": tool, "change": change})

    def add_breaker_source(self, source: Callable[[], Mapping[str, str]]) -> None:
        """``source()`` -> ``{upstream: "closed"|"open"|"half_open"}``, read at each scrape."""
        self._breaker_sources.append(source)

    def set_audit_lag_source(self, source: Callable[[], int]) -> None:
        """``source()`` -> number of journal records not yet shipped, read at each scrape."""
        self._audit_lag = source

    def set_replica_source(self, source: Callable[[], ReplicaFacts]) -> None:
        """``source()`` -> this replica's facts (id, policy, Redis, peers), read at each scrape."""
        self._replica = source

    # -- tracing ------------------------------------------------------------------------

    @contextmanager
    def span(self, name: str, **attrs: AttributeValue | None) -> Iterator[trace.Span]:
        """A current span; ``None`` attributes are dropped. Exceptions set status ERROR
        with the exception's type only (messages may hold upstream text)."""
        clean = {k: v for k, v in attrs.items() if v is not None}
        with self._tracer.start_as_current_span(
            name, attributes=clean, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
                raise

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Attach another span processor (an extra exporter, or an in-memory one in tests)."""
        self._tracers.add_span_processor(processor)

    def stage(self, name: str, **attrs: AttributeValue | None) -> AbstractContextManager[Any]:
        """A span for one pipeline stage, or nothing at all when spans are not recorded (the
        call's own span already carries the trace id the audit record needs)."""
        if not self._recording:
            return nullcontext()
        return self.span(name, **attrs)

    # -- exposition ---------------------------------------------------------------------

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The ``/metrics`` body and content type (OpenMetrics when ``accept`` asks for it)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def shutdown(self) -> None:
        """Flush pending spans and detach the metric reader; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._tracers.shutdown()
        self._meters.shutdown()

    # -- observable callbacks -------------------------------------------------------------

    def _observe_breakers(self, options: CallbackOptions) -> Iterable[Observation]:
        observations: list[Observation] = []
        for source in self._breaker_sources:
            try:
                states = dict(source())
            except Exception:
                log.exception("breaker state source failed")
                continue
            for upstream, state in states.items():
                value = 0 if state == "closed" else 1
                observations.append(Observation(value, {"upstream": upstream}))
        return observations

    def _facts(self) -> ReplicaFacts | None:
        if self._replica is None:
            return None
        try:
            return self._replica()
        except Exception:
            log.exception("replica source failed")
            return None

    def _observe_replica_info(self, options: CallbackOptions) -> Iterable[Observation]:
        facts = self._facts()
        if facts is None:
            return []
        return [Observation(1, {"replica": facts.replica, "policy_version": facts.policy_version})]

    def _observe_policy_versions(self, options: CallbackOptions) -> Iterable[Observation]:
        facts = self._facts()
        return [] if facts is None else [Observation(facts.policy_versions)]

    def _observe_redis_up(self, options: CallbackOptions) -> Iterable[Observation]:
        facts = self._facts()
        if facts is None or facts.redis_up is None:
            return []
        return [Observation(1 if facts.redis_up else 0)]

    def _observe_fallbacks(self, options: CallbackOptions) -> Iterable[Observation]:
        facts = self._facts()
        if facts is None:
            return []
        return [Observation(n, {"mode": mode}) for mode, n in sorted(facts.fallbacks.items())]

    def _observe_audit_lag(self, options: CallbackOptions) -> Iterable[Observation]:
        if self._audit_lag is None:
            return []
        try:
            return [Observation(self._audit_lag())]
        except Exception:
            log.exception("audit lag source failed")
            return []
