"""The Promtail pipeline, applied to the log lines a real gateway wrote.

Promtail itself is not packaged for Debian; its ``json`` stage evaluates JMESPath expressions
(the ``jmespath`` library here), ``labels`` promotes extracted values, ``match`` runs its
stages for lines whose labels fit the selector, ``timestamp`` parses the line's time. They are
applied as Promtail applies them, to the lines the gateway really logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jmespath
import pytest
import yaml

from gateway.audit.record import AuditRecord
from tests.support.live import ROOT, live_config, running, token_headers

PROMTAIL = ROOT / "deploy" / "promtail" / "labgate.yml"
#: Labels allowed on labgate streams: a bounded set of values each.
ALLOWED_LABELS = {"job", "container", "service", "level", "logger", "event", "kind", "decision"}
SECRET_TEXT = "topsecret-7f3a9"


def _stages() -> list[dict[str, Any]]:
    config = yaml.safe_load(PROMTAIL.read_text())
    (job,) = config["scrape_configs"]
    stages: list[dict[str, Any]] = job["pipeline_stages"]
    return stages


def _matches(selector: str, labels: dict[str, str]) -> bool:
    for name, op, value in re.findall(r'(\w+)\s*(=~|!=|=)\s*"([^"]*)"', selector):
        have = labels.get(name, "")
        if op == "=" and have != value:
            return False
        if op == "!=" and have == value:
            return False
        if op == "=~" and not re.fullmatch(value, have):
            return False
    return True


def apply(
    stages: list[dict[str, Any]],
    line: str,
    labels: dict[str, str],
    extracted: dict[str, Any] | None = None,
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Run ``stages`` on one line; nested ``match`` stages share the extracted map."""
    extracted = {} if extracted is None else extracted
    for stage in stages:
        ((kind, spec),) = stage.items()
        if kind == "docker":
            continue  # the container runtime's envelope; the test reads the raw lines
        if kind == "json":
            source = line if spec.get("source") is None else extracted.get(spec["source"])
            data = json.loads(source) if isinstance(source, str) else None
            for name, expr in spec["expressions"].items():
                value = jmespath.search(expr or name, data)
                if value is not None:
                    extracted[name] = value
        elif kind == "labels":
            for name, src in spec.items():
                value = extracted.get(src or name)
                if value is not None:
                    labels[name] = str(value)
        elif kind == "match":
            if _matches(spec["selector"], labels):
                line, labels, _ = apply(spec["stages"], line, labels, extracted)
        elif kind == "timestamp":
            assert spec["format"] == "RFC3339Nano"
            assert spec["source"] in extracted, line
            datetime.fromisoformat(str(extracted[spec["source"]]))
        else:
            raise AssertionError(f"stage {kind} is not emulated")
    return line, labels, extracted


@pytest.fixture(scope="module")
def log_lines(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    tmp = tmp_path_factory.mktemp("promtail")
    with running(tmp, live_config(tmp)) as live:
        auth = token_headers(tmp)
        calls = [
            ("testcap_echo", {"text": SECRET_TEXT}, auth),  # allowed; `text` is redacted
            ("testcap_fail", {}, auth),  # allowed, then the upstream fails
            ("testcap_echo", {"text": "x", "count": 9}, auth),  # denied: count above max
            ("testcap_echo", {"text": "x"}, {"Authorization": "Bearer forged.token.here"}),
        ]
        for tool, args, headers in calls:
            httpx.post(f"{live.base}/v1/tools/{tool}", json=args, headers=headers)
    token = auth["Authorization"].split()[1]
    return live.log().splitlines(), token


def test_every_line_is_labelled_as_app_or_audit(log_lines: tuple[list[str], str]) -> None:
    lines, _ = log_lines
    assert lines
    seen = set()
    for line in lines:
        _, labels, _ = apply(_stages(), line, {"job": "labgate"})
        assert set(labels) <= ALLOWED_LABELS
        if labels.get("event") == "audit":
            seen.add("audit")
            assert "level" not in labels and "logger" not in labels
        else:
            seen.add("app")
            assert labels["level"] in {"debug", "info", "warning", "error", "critical"}, line
            assert labels["logger"]
    assert seen == {"app", "audit"}


def test_audit_lines_become_the_record_with_bounded_labels(
    log_lines: tuple[list[str], str],
) -> None:
    lines, _ = log_lines
    audits = []
    for line in lines:
        out, labels, _ = apply(_stages(), line, {"job": "labgate"})
        if labels.get("event") == "audit":
            assert out == line  # the record itself is the Loki line
            audits.append((json.loads(out), labels))
    decisions = {labels["decision"] for _, labels in audits}
    assert decisions == {"ok", "allow", "error", "deny"}
    expected = {f.name for f in fields(AuditRecord)} | {"event", "seq", "hash"}
    for record, labels in audits:
        assert set(record) == expected
        assert labels["kind"] == record["kind"] and labels["decision"] == record["decision"]
    denied = [r for r, _ in audits if r["decision"] == "deny"]
    assert {r["error_code"] for r in denied} == {"denied", "unauthenticated"}


def test_logs_never_hold_the_token_or_redacted_arguments(
    log_lines: tuple[list[str], str],
) -> None:
    lines, token = log_lines
    text = "\n".join(lines)
    assert token not in text
    assert "forged.token.here" not in text
    assert SECRET_TEXT not in text


def test_documented_fields_and_labels_match() -> None:
    doc = (ROOT / "docs" / "observability.md").read_text()
    for name in {f.name for f in fields(AuditRecord)} | {"event", "seq", "hash"}:
        assert f"`{name}`" in doc, f"field {name} is not documented"
    for label in ALLOWED_LABELS:
        assert f"`{label}`" in doc, f"label {label} is not documented"
    assert Path(PROMTAIL).name in doc
