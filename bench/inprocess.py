"""The figures measured inside the bench process: policy decisions and audit shipping."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench import benchcap
from bench.stats import median, percentile
from gateway.audit.journal import Journal
from gateway.audit.postgres import PostgresSink
from gateway.audit.record import AuditRecord
from gateway.capability import Principal
from gateway.policy.evaluate import CallRequest, evaluate
from gateway.policy.loader import load_policy_dir
from gateway.registry import Registry
from gateway.scrub import Scrubber

__all__ = [
    "bench_secrets",
    "generate_rules",
    "measure_policy",
    "measure_scrub",
    "measure_shipping",
    "sample_record",
]


def generate_rules(count: int) -> list[dict[str, Any]]:
    """``count`` rules for the bench capability: every tenth a deny rule, the rest allow rules
    for one client each, with argument bounds and limits (a large lab's policy file)."""
    rules: list[dict[str, Any]] = []
    for i in range(count):
        if i % 10 == 9:
            rules.append(
                {
                    "id": f"deny-{i:04d}",
                    "effect": "deny",
                    "who": {"clients": [f"blocked-{i:04d}"]},
                    "tools": ["bench_fetch"],
                }
            )
            continue
        rules.append(
            {
                "id": f"allow-{i:04d}",
                "who": {"clients": [f"agent-{i:04d}"], "groups": ["agents"]},
                "tools": ["bench_lookup", "bench_fetch"],
                "args": {"delay_ms": {"max": 1000}, "key": {"max_length": 40}},
                "limits": {"rate": "100/minute", "burst": 10},
            }
        )
    return rules


def _time_us(req: CallRequest, policy_set: Any, rounds: int) -> list[float]:
    samples: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        decision = evaluate(req, policy_set)
        samples.append((time.perf_counter_ns() - t0) / 1000)
        if not decision.allowed:
            raise RuntimeError(f"expected an allow, got {decision.reasons}")
    return samples


def measure_policy(rule_count: int = 1000, rounds: int = 3000) -> dict[str, Any]:
    """Median and p99 of one ``evaluate`` on a ``rule_count``-rule policy set, in µs.

    The headline is the worst case: the caller's allow rule is the last rule of the file, so
    every rule is looked at. The first-rule case and the tool-list case (no arguments) too.
    """
    registry = Registry([benchcap.CAPABILITY])
    rules = generate_rules(rule_count)
    last_allow = max(i for i, r in enumerate(rules) if r.get("effect", "allow") == "allow")
    with tempfile.TemporaryDirectory(prefix="labgate-bench-policy-") as tmp:
        directory = Path(tmp)
        (directory / "gateway.yaml").write_text("kill_switch: false\n")
        policy = {"capability": "bench", "rules": rules}
        (directory / "bench.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
        policy_set = load_policy_dir(directory, registry)
    now = datetime.now(UTC)
    args = {"key": "k", "delay_ms": 0}

    def request(client: str, with_args: bool) -> CallRequest:
        who = Principal(sub="s", client_id=client, groups=("agents",))
        return CallRequest(who, "bench", "bench_fetch", args if with_args else None, now)

    cases = {
        "last_rule": request(f"agent-{last_allow:04d}", True),
        "first_rule": request("agent-0000", True),
        "list_last_rule": request(f"agent-{last_allow:04d}", False),
    }
    out: dict[str, Any] = {"rules": len(rules), "rounds": rounds}
    for name, req in cases.items():
        _time_us(req, policy_set, 200)  # warm-up
        samples = _time_us(req, policy_set, rounds)
        out[name] = {"median_us": median(samples), "p99_us": percentile(samples, 99)}
    return out


def sample_record(i: int) -> AuditRecord:
    """A call record shaped like the pipeline's."""
    return AuditRecord(
        kind="call",
        request_id=f"req-{i:08d}",
        sub="hermes-agent",
        client_id="hermes",
        username="hermes-bot",
        groups=["agents"],
        token_id=f"tok-{i % 50:04d}",
        face="rest",
        capability="bench",
        tool="bench_lookup",
        arguments={"key": f"k{i % 100}", "delay_ms": 0},
        decision="allow",
        rule_id="hermes-bench-cached",
        reasons=["allowed"],
        policy_version="sha256:0123456789abcdef",
        upstream="benchstub",
        latency_ms=1.234,
        result_bytes=64,
        result_count=1,
        cached=True,
    )


async def measure_shipping(dsn: str, count: int = 20_000, batch_size: int = 500) -> dict[str, Any]:
    """Append ``count`` records to a fresh journal, then time a :class:`PostgresSink` draining
    them into PostgreSQL batch after batch (the shipper's own loop minus its idle sleeps)."""
    with tempfile.TemporaryDirectory(prefix="labgate-bench-ship-") as tmp:
        journal = Journal(Path(tmp) / "ship.db")
        await journal.open()
        sink = PostgresSink(dsn, journal, batch_size=batch_size)
        try:
            await journal.append(sample_record(-1))
            await sink.ship_once()  # connects and migrates: not part of the figure
            for start in range(0, count, 1000):
                chunk = range(start, min(count, start + 1000))
                await asyncio.gather(*(journal.append(sample_record(i)) for i in chunk))
            t0 = time.perf_counter()
            shipped = 0
            while (n := await sink.ship_once()) > 0:
                shipped += n
            seconds = time.perf_counter() - t0
        finally:
            await sink.stop()
            await journal.close()
    if shipped != count:
        raise RuntimeError(f"shipped {shipped} of {count} records")
    return {
        "records": shipped,
        "batch_size": batch_size,
        "seconds": seconds,
        "per_second": shipped / seconds,
    }


def bench_secrets(count: int = 12) -> list[tuple[str, str]]:
    """A lab's secret set: ``count`` upstream tokens (one a basic-auth pair) and a password."""
    found = [(f"upstream:u{i}", secrets.token_urlsafe(32)) for i in range(count - 1)]
    found.append(("upstream:u0", f"admin:{found[0][1]}"))
    found.append(("postgres.password_file", secrets.token_urlsafe(24)))
    return found


def _scan_us(scrubber: Scrubber, value: dict[str, Any], rounds: int) -> list[float]:
    samples: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        scrubber.scan(value)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples


def measure_scrub(rounds: int = 3000) -> dict[str, Any]:
    """Median and p99 of one result scan, in µs: the bench tool's result (the hot path) and a
    result at the 50,000-character ceiling (100 items), clean and with one echoed secret."""
    pairs = bench_secrets()
    scrubber = Scrubber(pairs)
    small = {"key": "cached", "value": "item cached " + "x" * 40, "served_by": "stub"}
    item = {"id": "doc-0000", "title": "A document title", "body": "lorem ipsum dolor " * 25}
    items = [dict(item, id=f"doc-{i:04d}") for i in range(100)]
    large = {"items": items, "partial": False}
    leaking = {"items": [*items[:-1], dict(item, body="Bearer " + pairs[3][1])]}
    out: dict[str, Any] = {"secrets": len(pairs), "needles": len(scrubber._labels)}
    for name, value in (("small", small), ("large", large), ("large_hit", leaking)):
        samples = _scan_us(scrubber, value, rounds if name == "small" else rounds // 10)
        out[name] = {"median_us": median(samples), "p99_us": percentile(samples, 99)}
    return out
