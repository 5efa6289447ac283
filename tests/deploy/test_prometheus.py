"""Prometheus: the shipped scrape config and alert rules against a real Prometheus and a real
gateway; the rules' semantics through their promtool unit tests."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.telemetry import METRIC_NAMES
from tests.support.live import ROOT, LiveGateway, live_config, running, token_headers
from tests.support.prometheus import PrometheusServer, prometheus_server, wait_for

PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "labgate-alerts.yml"
ALERTS = {
    "LabgateDown",
    "LabgateAgentDeniedRepeatedly",
    "LabgateUpstreamBreakerOpen",
    "LabgatePolicyReloadFailed",
    "LabgateAuditShippingBehind",
    "LabgateAuditShippingStalled",
    "LabgateRedisAway",
    "LabgateReplicasDisagree",
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: run tests/support/install_deploy.sh")
    return subprocess.run(
        [binary, *args], cwd=PROM, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_config_and_rules() -> None:
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", RULES.name)):
        proc = _promtool(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alert_rule_unit_tests_pass() -> None:
    proc = _promtool("test", "rules", "labgate-alerts.test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_rules_name_only_exported_metrics() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        for name in re.findall(r"\b(labgate_\w+)", rule["expr"]):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert base in METRIC_NAMES, f"{rule['alert']}: unknown metric {name}"


def _config(live: LiveGateway, rules: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((PROM / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(rules)]
    (job,) = config["scrape_configs"]
    job["scrape_interval"], job["scrape_timeout"] = "1s", "1s"
    job["static_configs"][0]["targets"] = [live.ops.removeprefix("http://")]
    return config


def _series(prom: PrometheusServer, promql: str, want: dict[str, str]) -> dict[str, Any] | None:
    for series in prom.query(promql):
        if all(series["metric"].get(k) == v for k, v in want.items()):
            return series
    return None


def _alert(prom: PrometheusServer, name: str) -> dict[str, Any] | None:
    for alert in prom.get("/api/v1/alerts")["alerts"]:
        if alert["labels"]["alertname"] == name and alert["state"] in ("pending", "firing"):
            return dict(alert)
    return None


def _scrapes(prom: PrometheusServer) -> int:
    result = prom.query('count_over_time(up{job="labgate"}[1h])')
    return int(float(result[0]["value"][1])) if result else 0


def test_real_prometheus_scrapes_calls_latency_and_evaluates_alerts(tmp_path: Path) -> None:
    config = live_config(tmp_path)
    with running(tmp_path, config) as live:
        hermes = token_headers(tmp_path)
        stranger = token_headers(tmp_path, client_id="stranger", groups=("nobody",))
        for _ in range(3):
            r = httpx.post(
                live.base + "/v1/tools/testcap_echo", json={"text": "hi"}, headers=hermes
            )
            assert r.status_code == 200, r.text
        r = httpx.post(live.base + "/v1/tools/testcap_echo", json={"text": "x"}, headers=stranger)
        assert r.status_code == 403

        with prometheus_server(tmp_path, _config(live, RULES)) as prom:
            calls = wait_for(
                lambda: _series(
                    prom,
                    "labgate_calls_total",
                    {"tool": "testcap_echo", "decision": "allow", "face": "rest"},
                ),
                30,
                "labgate_calls_total from the operator listener",
            )
            assert calls["metric"]["job"] == "labgate"
            assert calls["metric"]["service"] == "labgate"
            assert float(calls["value"][1]) == 3
            bucket = _series(
                prom,
                'labgate_call_duration_seconds_bucket{le="+Inf"}',
                {"tool": "testcap_echo", "face": "rest"},
            )
            # The histogram has no decision label: three allowed calls and one denied.
            assert bucket is not None and float(bucket["value"][1]) == 4
            les = {s["metric"]["le"] for s in prom.query("labgate_call_duration_seconds_bucket")}
            assert {"0.0005", "0.1", "30.0", "+Inf"} <= les
            denial = _series(prom, "labgate_denials_total", {"tool": "testcap_echo"})
            assert denial is not None and denial["metric"]["reason"]
            # histogram_quantile over the exported buckets is meaningful (finite).
            p95 = prom.query(
                "histogram_quantile(0.95, sum by (le, tool) "
                '(labgate_call_duration_seconds_bucket{tool="testcap_echo"}))'
            )
            assert p95 and 0 < float(p95[0]["value"][1]) <= 30

            def rules_healthy() -> list[dict[str, Any]] | None:
                groups = prom.get("/api/v1/rules")["groups"]
                rules = [r for g in groups for r in g["rules"]]
                evaluated = all(r["lastEvaluation"][:4] != "0001" for r in rules)
                return rules if rules and evaluated else None

            rules = wait_for(rules_healthy, 30, "every rule to be evaluated")
            assert {r["name"] for r in rules} == ALERTS
            assert all(r["health"] == "ok" for r in rules), [
                (r["name"], r.get("lastError")) for r in rules
            ]

            # Repeated denials: the counter exists; wait for two scrapes, then 15 more.
            start = _scrapes(prom)
            wait_for(lambda: _scrapes(prom) >= start + 2 or None, 20, "two more scrapes")
            for _ in range(15):
                httpx.post(live.base + "/v1/tools/testcap_echo", json={"text": "x"},
                           headers=stranger)  # fmt: skip
            denied = wait_for(
                lambda: _alert(prom, "LabgateAgentDeniedRepeatedly"), 30, "the denial alert"
            )
            assert denied["labels"]["tool"] == "testcap_echo"

            # A refused policy edit: the failure counter appears at 1 and the alert notices.
            (Path(config["policy_dir"]) / "testcap.yaml").write_text("capability: [oops\n")
            live.proc.send_signal(signal.SIGHUP)
            reload_alert = wait_for(
                lambda: _alert(prom, "LabgatePolicyReloadFailed"), 30, "the reload alert"
            )
            assert reload_alert["labels"]["result"] == "failed"
            assert _alert(prom, "LabgateDown") is None
