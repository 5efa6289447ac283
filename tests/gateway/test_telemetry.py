"""Telemetry: exact Prometheus names and labels, per-app registries, spans and OTLP export."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from gateway.telemetry import (
    DURATION_BUCKETS,
    METRIC_NAMES,
    ReplicaFacts,
    Telemetry,
    TelemetrySettings,
    current_trace_id,
)
from tests.support.misbehaving import MisbehavingServer, misbehaving  # noqa: F401  (fixture)

EXPECTED_LABELS = {
    "labgate_calls_total": {"tool", "decision", "face"},
    "labgate_call_duration_seconds": {"tool", "face", "le"},
    "labgate_denials_total": {"tool", "reason"},
    "labgate_upstream_requests_total": {"upstream", "status_class"},
    "labgate_upstream_duration_seconds": {"upstream", "le"},
    "labgate_breaker_open": {"upstream"},
    "labgate_policy_reloads_total": {"result"},
    "labgate_audit_lag_records": set(),
    "labgate_rate_limited_total": {"tool"},
    "labgate_cache_total": {"tool", "result"},
    "labgate_edge_refusals_total": {"listener", "code"},
    "labgate_shadow_disagreements_total": {"tool", "change"},
    "labgate_replica_info": {"replica", "policy_version"},
    "labgate_replica_policy_versions": set(),
    "labgate_redis_up": set(),
    "labgate_limit_fallbacks_total": {"mode"},
}


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry(TelemetrySettings(record_spans=True))
    try:
        yield t
    finally:
        t.shutdown()


def _exercise(t: Telemetry) -> None:
    t.record_call("astro_list_sessions", "allow", "rest", 0.012)
    t.record_denial("astro_list_sessions", "default-deny")
    t.record_upstream("influx", "2xx", 0.004)
    t.record_policy_reload("ok")
    t.record_rate_limited("astro_list_sessions")
    t.record_cache("astro_list_sessions", "hit")
    t.record_edge_refusal("agent", "header_too_large")
    t.record_shadow_disagreement("astro_list_sessions", "narrow")
    t.add_breaker_source(lambda: {"influx": "open", "kuma": "closed"})
    t.set_audit_lag_source(lambda: 7)
    t.set_replica_source(
        lambda: ReplicaFacts("gw-a", "v1", 2, redis_up=False, fallbacks={"deny": 3, "local": 1})
    )


def _families(t: Telemetry) -> dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]:
    body, _ = t.render()
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        out[name] = (fam.type, [(s.name, dict(s.labels), s.value) for s in fam.samples])
    return out


def test_metric_names_and_labels_are_exact(telemetry: Telemetry) -> None:
    _exercise(telemetry)
    families = _families(telemetry)
    labgate = {n for n in families if n.startswith("labgate_")}
    assert labgate == set(METRIC_NAMES) == set(EXPECTED_LABELS)
    for name, labels in EXPECTED_LABELS.items():
        _, samples = families[name]
        for sample, sample_labels, _value in samples:
            want = labels if sample.endswith("_bucket") else labels - {"le"}
            assert set(sample_labels) == want, sample
    assert families["labgate_calls_total"][0] == "counter"
    assert families["labgate_call_duration_seconds"][0] == "histogram"
    assert families["labgate_breaker_open"][0] == "gauge"
    assert families["labgate_audit_lag_records"][1] == [("labgate_audit_lag_records", {}, 7.0)]
    breaker = {s[1]["upstream"]: s[2] for s in families["labgate_breaker_open"][1]}
    assert breaker == {"influx": 1.0, "kuma": 0.0}


def test_duration_buckets_start_at_half_a_millisecond(telemetry: Telemetry) -> None:
    telemetry.record_call("t", "allow", "mcp", 0.0003)
    _, samples = _families(telemetry)["labgate_call_duration_seconds"]
    bounds = [float(lbl["le"]) for name, lbl, _ in samples if name.endswith("_bucket")]
    assert bounds[:-1] == list(DURATION_BUCKETS)
    first = next(v for name, lbl, v in samples if lbl.get("le") == "0.0005")
    assert first == 1.0


def test_two_apps_do_not_share_metrics() -> None:
    a, b = Telemetry(), Telemetry()
    try:
        a.record_denial("x", "default-deny")
        assert b"labgate_denials_total{" in a.render()[0]
        assert b"labgate_denials_total{" not in b.render()[0]
    finally:
        a.shutdown()
        b.shutdown()


def test_render_content_types(telemetry: Telemetry) -> None:
    _, ctype = telemetry.render()
    assert ctype.startswith("text/plain")
    body, ctype = telemetry.render("application/openmetrics-text; version=1.0.0")
    assert ctype.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_failing_sources_do_not_break_the_scrape(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("boom")

    telemetry.add_breaker_source(broken)
    telemetry.add_breaker_source(lambda: {"ok": "closed"})
    telemetry.set_audit_lag_source(lambda: 1 // 0)
    body, _ = telemetry.render()
    assert b'labgate_breaker_open{upstream="ok"} 0.0' in body
    assert "breaker state source failed" in caplog.text


def test_spans_have_trace_ids(telemetry: Telemetry) -> None:
    assert current_trace_id() is None
    with telemetry.span("outer", tool="x", skipped=None) as outer:
        trace_id = current_trace_id()
        assert trace_id is not None and re.fullmatch(r"[0-9a-f]{32}", trace_id)
        assert "skipped" not in (outer.attributes or {})  # type: ignore[attr-defined]
        with telemetry.span("inner"):
            assert current_trace_id() == trace_id
    assert current_trace_id() is None


def test_span_marks_errors_and_reraises(telemetry: Telemetry) -> None:
    with pytest.raises(KeyError), telemetry.span("failing") as span:
        raise KeyError("secret-ish upstream text")
    assert span.status.status_code.name == "ERROR"  # type: ignore[attr-defined]
    assert span.attributes["error.type"] == "KeyError"  # type: ignore[attr-defined]
    assert not span.events  # type: ignore[attr-defined]  # no exception message recorded


def test_shutdown_is_idempotent() -> None:
    t = Telemetry()
    t.shutdown()
    t.shutdown()
    assert t.render()[0] == b""  # the reader left the registry


def test_settings() -> None:
    assert TelemetrySettings().traces_url() is None
    s = TelemetrySettings(otlp_endpoint="http://otel.lan:4318/")
    assert s.traces_url() == "http://otel.lan:4318/v1/traces"
    assert (
        TelemetrySettings(otlp_endpoint="http://c/v1/traces").traces_url() == "http://c/v1/traces"
    )
    with pytest.raises(ValidationError):
        TelemetrySettings(otlp_endpoint="grpc://c:4317")
    with pytest.raises(ValidationError):
        TelemetrySettings.model_validate({"otlp_endpoint": None, "exporter": "x"})


def test_spans_are_exported_over_otlp_http(misbehaving: MisbehavingServer) -> None:  # noqa: F811
    t = Telemetry(TelemetrySettings(otlp_endpoint=misbehaving.url, service_name="labgate-test"))
    with t.span("otlp-export-check", tool="astro_list_sessions"):
        pass
    t.shutdown()  # flushes the batch processor
    deadline = time.monotonic() + 5
    while misbehaving.hits("/v1/traces") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    posts = [r for r in misbehaving.requests if r.path == "/v1/traces"]
    assert posts and posts[0].method == "POST"
    assert posts[0].headers["content-type"] == "application/x-protobuf"
    assert b"otlp-export-check" in posts[0].body
    assert b"labgate-test" in posts[0].body


def test_spans_are_not_recorded_without_an_exporter_but_keep_trace_ids() -> None:
    t = Telemetry()
    try:
        with t.span("call", tool="x") as span:
            assert not span.is_recording()
            assert current_trace_id() is not None
    finally:
        t.shutdown()


def test_reload_failures_are_a_series_from_the_start() -> None:
    """An alert on ``increase(labgate_policy_reloads_total{result="failed"}[...])`` needs the
    series to exist at 0 before the first failure."""
    t = Telemetry()
    try:
        text = t.render()[0].decode()
        assert 'labgate_policy_reloads_total{result="failed"} 0.0' in text
    finally:
        t.shutdown()
