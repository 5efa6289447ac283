"""Metrics and traces of one labgate app: no globals, one :class:`Telemetry` per app.

Metrics are plain counters and histograms kept in dicts, exported at scrape time by a
``prometheus_client`` collector in the app's own registry (two apps in one process never
clash); ``render()`` serves ``/metrics``. Recording one costs a dict update: this runs on every
call (docs/performance.md). Spans come from the app's own ``TracerProvider``; they are exported over
OTLP/HTTP only when ``otlp_endpoint`` is set, but always carry trace ids for the audit record.

Labels are fixed, low-cardinality names; no metric or span ever carries a URL query string,
a header or an upstream body.
"""

from __future__ import annotations

import logging
import random
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

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
        self._closed = False

        self._metrics = _Metrics(resource)
        self.registry.register(self._metrics)
        for result in ("ok", "failed"):  # both series exist from the start, at 0
            self._metrics.reloads.setdefault((result,), 0.0)

    # -- recording ----------------------------------------------------------------------
    # Plain counters, read at scrape time: one dict update per event, no per-event
    # attribute hashing or locking (the OpenTelemetry instruments cost ~20 µs per call).

    def record_call(self, tool: str, decision: str, face: str, seconds: float) -> None:
        m = self._metrics
        key = (tool, decision, face)
        m.calls[key] = m.calls.get(key, 0.0) + 1
        m.call_duration.observe((tool, face), seconds)

    def record_denial(self, tool: str, reason: str) -> None:
        _inc(self._metrics.denials, (tool, reason))

    def record_upstream(self, upstream: str, status_class: str, seconds: float) -> None:
        _inc(self._metrics.upstream_requests, (upstream, status_class))
        self._metrics.upstream_duration.observe((upstream,), seconds)

    def record_policy_reload(self, result: Literal["ok", "failed"]) -> None:
        _inc(self._metrics.reloads, (result,))

    def record_rate_limited(self, tool: str) -> None:
        _inc(self._metrics.rate_limited, (tool,))

    def record_cache(self, tool: str, result: CacheResult) -> None:
        _inc(self._metrics.cache, (tool, result))

    def record_edge_refusal(self, listener: str, code: str) -> None:
        _inc(self._metrics.edge_refusals, (listener, code))

    def record_shadow_disagreement(self, tool: str, change: str) -> None:
        _inc(self._metrics.shadow, (tool, change))

    def add_breaker_source(self, source: Callable[[], Mapping[str, str]]) -> None:
        """``source()`` -> ``{upstream: "closed"|"open"|"half_open"}``, read at each scrape."""
        self._metrics.breaker_sources.append(source)

    def set_audit_lag_source(self, source: Callable[[], int]) -> None:
        """``source()`` -> number of journal records not yet shipped, read at each scrape."""
        self._metrics.audit_lag = source

    def set_replica_source(self, source: Callable[[], ReplicaFacts]) -> None:
        """``source()`` -> this replica's facts (id, policy, Redis, peers), read at each scrape."""
        self._metrics.replica = source

    # -- tracing ------------------------------------------------------------------------

    def span(self, name: str, **attrs: AttributeValue | None) -> AbstractContextManager[trace.Span]:
        """A current span; ``None`` attributes are dropped. Exceptions set status ERROR
        with the exception's type only (messages may hold upstream text).

        Unrecorded (no exporter): a bare span context carrying the trace id (the parent's, or
        a new one), without the SDK's sampler and attribute handling."""
        if not self._recording:
            return _Unrecorded()
        return self._recorded(name, attrs)

    @contextmanager
    def _recorded(
        self, name: str, attrs: Mapping[str, AttributeValue | None]
    ) -> Iterator[trace.Span]:
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
        self.registry.unregister(self._metrics)


def _inc(series: dict[tuple[str, ...], float], key: tuple[str, ...]) -> None:
    series[key] = series.get(key, 0.0) + 1


class _Histogram:
    """Counts per bucket (not cumulative), sum and count, per label tuple."""

    __slots__ = ("series",)

    def __init__(self) -> None:
        self.series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, key: tuple[str, ...], value: float) -> None:
        row = self.series.get(key)
        if row is None:
            # one slot per bucket, one for +Inf, then sum
            row = self.series[key] = [0.0] * (len(DURATION_BUCKETS) + 2)
        row[bisect_left(DURATION_BUCKETS, value)] += 1
        row[-1] += value

    def family(self, name: str, doc: str, labels: list[str], unit: str) -> Metric:
        fam = HistogramMetricFamily(name, doc, labels=labels, unit=unit)
        for key, row in list(self.series.items()):
            running, buckets = 0.0, []
            for bound, count in zip((*map(repr, DURATION_BUCKETS), "+Inf"), row, strict=False):
                running += count
                buckets.append((bound, running))
            fam.add_metric(list(key), buckets, row[-1])
        return fam


class _Metrics(Collector):
    """Every labgate metric family, built from plain dicts at each scrape."""

    def __init__(self, resource: Resource) -> None:
        self.target = {k.replace(".", "_"): str(v) for k, v in resource.attributes.items()}
        self.calls: dict[tuple[str, ...], float] = {}
        self.call_duration = _Histogram()
        self.denials: dict[tuple[str, ...], float] = {}
        self.upstream_requests: dict[tuple[str, ...], float] = {}
        self.upstream_duration = _Histogram()
        self.reloads: dict[tuple[str, ...], float] = {}
        self.rate_limited: dict[tuple[str, ...], float] = {}
        self.cache: dict[tuple[str, ...], float] = {}
        self.edge_refusals: dict[tuple[str, ...], float] = {}
        self.shadow: dict[tuple[str, ...], float] = {}
        self.breaker_sources: list[Callable[[], Mapping[str, str]]] = []
        self.audit_lag: Callable[[], int] | None = None
        self.replica: Callable[[], ReplicaFacts] | None = None

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily("target_info", "Target metadata", labels=list(self.target))
        info.add_metric(list(self.target.values()), 1.0)
        yield info
        counters = (
            ("labgate_policy_reloads_total", "Policy reloads by result (ok, failed).",
             ["result"], self.reloads),
            ("labgate_calls_total", "Tool calls by tool, decision and face.",
             ["tool", "decision", "face"], self.calls),
            ("labgate_denials_total", "Denied calls by tool and reason.",
             ["tool", "reason"], self.denials),
            ("labgate_upstream_requests_total",
             "Upstream requests by upstream and status class or error kind.",
             ["upstream", "status_class"], self.upstream_requests),
            ("labgate_rate_limited_total", "Calls refused by a rate limit, by tool.",
             ["tool"], self.rate_limited),
            ("labgate_cache_total", "Result cache lookups by tool and result.",
             ["tool", "result"], self.cache),
            ("labgate_edge_refusals_total",
             "Connections refused at the HTTP edge, by listener and code.",
             ["listener", "code"], self.edge_refusals),
            ("labgate_shadow_disagreements_total",
             "Calls the shadow policy set decides otherwise, by tool and change.",
             ["tool", "change"], self.shadow),
        )  # fmt: skip
        for name, doc, labels, series in counters:
            if not series:
                continue  # a counter appears after its first event
            fam = CounterMetricFamily(name, doc, labels=labels)
            for key, value in list(series.items()):
                fam.add_metric(list(key), value)
            yield fam
        if self.call_duration.series:
            yield self.call_duration.family(
                "labgate_call_duration_seconds",
                "Tool call latency, end to end.",
                ["tool", "face"],
                "seconds",
            )
        if self.upstream_duration.series:
            yield self.upstream_duration.family(
                "labgate_upstream_duration_seconds",
                "Upstream request latency, body included.",
                ["upstream"],
                "seconds",
            )
        yield self._breakers()
        lag = self._lag()
        if lag is not None:
            yield lag
        yield from self._replica_families()

    def _breakers(self) -> Metric:
        fam = GaugeMetricFamily(
            "labgate_breaker_open",
            "1 while an upstream's breaker is open or half-open, else 0.",
            labels=["upstream"],
        )
        for source in self.breaker_sources:
            try:
                states = dict(source())
            except Exception:
                log.exception("breaker state source failed")
                continue
            for upstream, state in states.items():
                fam.add_metric([upstream], 0.0 if state == "closed" else 1.0)
        return fam

    def _replica_families(self) -> Iterator[Metric]:
        if self.replica is None:
            return
        try:
            facts = self.replica()
        except Exception:
            log.exception("replica source failed")
            return
        info = GaugeMetricFamily(
            "labgate_replica_info",
            "1, labelled with this replica's id and the policy version it enforces.",
            labels=["replica", "policy_version"],
        )
        info.add_metric([facts.replica, facts.policy_version], 1.0)
        yield info
        yield GaugeMetricFamily(
            "labgate_replica_policy_versions",
            "Policy versions in force across the live replicas (over 1: they differ).",
            value=float(facts.policy_versions),
        )
        if facts.redis_up is not None:
            yield GaugeMetricFamily(
                "labgate_redis_up",
                "1 while the shared store (Redis) answers, else 0; absent without Redis.",
                value=1.0 if facts.redis_up else 0.0,
            )
        fallbacks = CounterMetricFamily(
            "labgate_limit_fallbacks",
            "Calls whose limits were decided while Redis was away, by mode.",
            labels=["mode"],
        )
        for mode, n in sorted(facts.fallbacks.items()):
            fallbacks.add_metric([mode], float(n))
        yield fallbacks

    def _lag(self) -> Metric | None:
        if self.audit_lag is None:
            return None
        try:
            value = float(self.audit_lag())
        except Exception:
            log.exception("audit lag source failed")
            return None
        fam = GaugeMetricFamily(
            "labgate_audit_lag_records", "Journal records not yet shipped to PostgreSQL."
        )
        fam.add_metric([], value)
        return fam


_UNSAMPLED = trace.TraceFlags(trace.TraceFlags.DEFAULT)


class _Unrecorded:
    """An unrecorded span made current: the trace id of the parent span, or a new one (as the
    SDK's id generator makes them: ``random.getrandbits``, ids are not secrets)."""

    __slots__ = ("_token",)

    def __enter__(self) -> trace.Span:
        parent = trace.get_current_span().get_span_context()
        trace_id = parent.trace_id if parent.is_valid else _nonzero(128)
        span = trace.NonRecordingSpan(
            trace.SpanContext(trace_id, _nonzero(64), is_remote=False, trace_flags=_UNSAMPLED)
        )
        self._token = context.attach(trace.set_span_in_context(span))
        return span

    def __exit__(self, *exc: object) -> None:
        context.detach(self._token)


def _nonzero(bits: int) -> int:
    while not (value := random.getrandbits(bits)):
        pass
    return value
