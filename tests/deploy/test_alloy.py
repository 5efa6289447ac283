"""deploy/alloy/labgate.alloy: wired correctly, and the same streams and labels as Promtail's.

The Promtail pipeline is applied to real gateway log lines in test_promtail.py; here the Alloy
configuration is read (tests/deploy/alloy.py) and shown to discover, relabel and process
exactly as the Promtail snippet does, stage for stage.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.support.live import ROOT

from .alloy import Block, Ref, parse
from .test_promtail import apply

ALLOY = ROOT / "deploy" / "alloy" / "labgate.alloy"
PROMTAIL = ROOT / "deploy" / "promtail" / "labgate.yml"
#: What each component used here exports (Alloy's reference documentation).
EXPORTS = {
    "discovery.docker": {"targets"},
    "discovery.relabel": {"output", "rules"},
    "loki.process": {"receiver"},
    "loki.write": {"receiver"},
    "loki.source.docker": set(),
}


@pytest.fixture(scope="module")
def alloy() -> Block:
    return parse(ALLOY.read_text("utf-8"))


@pytest.fixture(scope="module")
def promtail() -> dict[str, Any]:
    (job,) = yaml.safe_load(PROMTAIL.read_text("utf-8"))["scrape_configs"]
    assert isinstance(job, dict)
    return job


def _refs(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    return []


def _all_refs(block: Block) -> list[Ref]:
    found = [r for v in block.attrs.values() for r in _refs(v)]
    return found + [r for b in block.blocks for r in _all_refs(b)]


def test_every_reference_names_a_component_export(alloy: Block) -> None:
    components = {f"{b.name}.{b.label}": b.name for b in alloy.blocks}
    assert all(b.name in EXPORTS and b.label for b in alloy.blocks)
    refs = _all_refs(alloy)
    assert refs
    for ref in refs:
        component, _, export = ref.path.rpartition(".")
        assert component in components, ref
        assert export in EXPORTS[components[component]], ref
    # logs flow source -> process -> write
    source = alloy.one("loki.source.docker")
    assert source.attrs["forward_to"] == [Ref("loki.process.labgate.receiver")]
    assert alloy.one("loki.process").attrs["forward_to"] == [Ref("loki.write.labgate.receiver")]


def test_discovers_the_same_containers(alloy: Block, promtail: dict[str, Any]) -> None:
    (sd,) = promtail["docker_sd_configs"]
    docker = alloy.one("discovery.docker")
    assert docker.attrs["host"] == sd["host"]
    filters = [{"name": f.attrs["name"], "values": f.attrs["values"]} for f in docker.all("filter")]
    assert filters == sd["filters"]
    assert alloy.one("loki.source.docker").attrs["host"] == sd["host"]


def test_relabels_to_the_same_labels(alloy: Block, promtail: dict[str, Any]) -> None:
    rules = [r.attrs for r in alloy.one("discovery.relabel").all("rule")]
    assert rules == promtail["relabel_configs"]


def _stages(block: Block) -> list[dict[str, Any]]:
    """Alloy's ``stage.*`` blocks written as Promtail pipeline stages."""
    out: list[dict[str, Any]] = []
    for stage in block.blocks:
        kind = stage.name.removeprefix("stage.")
        if kind == "json":
            out.append({"json": {"expressions": stage.attrs["expressions"]}})
        elif kind == "labels":
            out.append({"labels": {k: v or None for k, v in stage.attrs["values"].items()}})
        elif kind == "match":
            spec = {"selector": stage.attrs["selector"], "stages": _stages(stage)}
            out.append({"match": spec})
        elif kind == "timestamp":
            out.append({"timestamp": dict(stage.attrs)})
        else:
            raise AssertionError(f"stage {kind} has no Promtail counterpart here")
    return out


def test_processes_lines_as_promtail_does(alloy: Block, promtail: dict[str, Any]) -> None:
    # loki.source.docker reads the Docker log API itself: Promtail's `docker` stage has no
    # counterpart. Every other stage is the same, in the same order.
    expected = [s for s in promtail["pipeline_stages"] if "docker" not in s]
    assert _stages(alloy.one("loki.process")) == expected


def test_gives_an_audit_line_the_same_labels(alloy: Block) -> None:
    record = {
        "event": "audit",
        "kind": "call",
        "decision": "deny",
        "time": "2026-11-25T21:04:11.120331+00:00",
        "client_id": "hermes",
        "tool": "x",
    }
    line = json.dumps(record)
    _, labels, _ = apply(_stages(alloy.one("loki.process")), line, {"job": "labgate"})
    assert labels == {"job": "labgate", "event": "audit", "kind": "call", "decision": "deny"}


def test_documented_beside_promtail() -> None:
    docs = (ROOT / "docs" / "observability.md").read_text("utf-8")
    assert "deploy/alloy/labgate.alloy" in docs and "deploy/promtail/labgate.yml" in docs
