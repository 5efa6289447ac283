"""Three gateway processes behind haproxy, one redis-server, one PostgreSQL: one gateway.

Each test starts from the running cluster of the module (starting three gateways is the slow
part); the tests use distinct principals, so the buckets of one never meet another's. The
kill switch test runs last: it edits the shared policy checkout.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.live import token_headers
from tests.support.pg import fresh_database
from tests.support.redis import RedisServer
from tests.support.replicas import Cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redis_module() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, redis_module: RedisServer
) -> Iterator[Cluster]:
    with (
        fresh_database() as dsn,
        Cluster(tmp_path_factory.mktemp("replicas"), redis_module.url, dsn) as running,
    ):
        yield running


def _headers(cluster: Cluster, client: str) -> dict[str, str]:
    return token_headers(cluster.tmp, client_id=client, groups=("agents",))


async def _calls(
    base: str, headers: dict[str, str], tool: str, args: dict[str, Any], n: int, parallel: int
) -> list[httpx.Response | Exception]:
    limit = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def one() -> httpx.Response | Exception:
            async with limit:
                try:
                    return await client.post(f"/v1/tools/{tool}", headers=headers, json=args)
                except httpx.HTTPError as exc:
                    return exc

        return await asyncio.gather(*(one() for _ in range(n)))


def _records(cluster: Cluster, client: str, tool: str) -> list[dict[str, Any]]:
    """The call records of ``client`` and ``tool`` in every replica's journal."""
    found = []
    for gateway in cluster.gateways:
        conn = sqlite3.connect(f"file:{gateway.journal}?mode=ro", uri=True)
        try:
            for (text,) in conn.execute("SELECT record FROM journal"):
                record = json.loads(text)
                if record["kind"] == "call" and record["client_id"] == client:
                    if record["tool"] == tool:
                        found.append(record)
        finally:
            conn.close()
    return found


def _served(cluster: Cluster, client: str, tool: str = "testcap_echo") -> dict[str, int]:
    """Call records of ``client`` and ``tool``, counted by the replica that wrote them."""
    counts: dict[str, int] = {}
    for record in _records(cluster, client, tool):
        counts[record["replica"]] = counts.get(record["replica"], 0) + 1
    return counts


async def test_a_global_limit_holds_exactly_across_replicas(cluster: Cluster) -> None:
    headers = _headers(cluster, "burst")  # ten-per-hour: 10/hour, burst 10
    results = await _calls(cluster.proxy, headers, "testcap_echo", {"text": "x"}, 60, 30)
    statuses = [r.status_code for r in results if isinstance(r, httpx.Response)]
    assert len(statuses) == 60
    assert statuses.count(200) == 10
    assert statuses.count(429) == 50
    # Every replica took its share (round robin): a per-replica limit would have let 30 pass.
    served = _served(cluster, "burst")
    assert set(served) == {"gw-0", "gw-1", "gw-2"} and sum(served.values()) == 60


async def test_one_upstream_request_for_100_identical_calls(cluster: Cluster) -> None:
    before = cluster.upstream.count
    headers = _headers(cluster, "hermes")
    results = await _calls(cluster.proxy, headers, "declarative_replica_count", {}, 100, 100)
    assert all(isinstance(r, httpx.Response) and r.status_code == 200 for r in results), [
        r.text if isinstance(r, httpx.Response) else repr(r) for r in results[:3]
    ]
    assert cluster.upstream.count - before == 1
    cached = [r.json()["provenance"]["cached"] for r in results if isinstance(r, httpx.Response)]
    assert cached.count(False) == 1
    served = _served(cluster, "hermes", "declarative_replica_count")
    assert set(served) == {"gw-0", "gw-1", "gw-2"} and sum(served.values()) == 100


def _readyz(cluster: Cluster) -> list[dict[str, Any]]:
    return [httpx.get(g.ops + "/readyz", timeout=5).json() for g in cluster.gateways]


async def test_redis_away_limits_fail_closed_and_resume(
    cluster: Cluster, redis_module: RedisServer
) -> None:
    guarded, relaxed = _headers(cluster, "guarded"), _headers(cluster, "relaxed")
    unlimited = _headers(cluster, "hermes")
    echo = {"text": "x"}
    ok = await _calls(cluster.proxy, guarded, "testcap_echo", echo, 6, 3)
    assert [r.status_code for r in ok if isinstance(r, httpx.Response)] == [200] * 6
    redis_module.kill()
    try:
        refused = await _calls(cluster.proxy, guarded, "testcap_echo", echo, 6, 3)
        codes = [r.status_code for r in refused if isinstance(r, httpx.Response)]
        assert codes == [503] * 6
        assert {r.json()["code"] for r in refused if isinstance(r, httpx.Response)} == {
            "unavailable"
        }
        # Audited as denials with their own reason.
        denials = [
            r for r in _records(cluster, "guarded", "testcap_echo") if r["decision"] == "deny"
        ]
        assert len(denials) == 6
        assert {tuple(r["reasons"]) for r in denials} == {("limits-unavailable",)}
        # A limit that says `fallback: local` counts here; a call without limits is untouched.
        local = await _calls(cluster.proxy, relaxed, "testcap_echo", echo, 6, 3)
        assert [r.status_code for r in local if isinstance(r, httpx.Response)] == [200] * 6
        free = await _calls(cluster.proxy, unlimited, "testcap_echo", echo, 6, 3)
        assert [r.status_code for r in free if isinstance(r, httpx.Response)] == [200] * 6
        for ready in _readyz(cluster):
            replica = ready["checks"]["replica"]
            assert ready["status"] == "ready"  # Redis away takes no replica out of the proxy
            assert replica["redis"]["up"] is False
            assert "testcap/guarded" in replica["limits_when_redis_away"]["deny"]
            assert "testcap/local-when-away" in replica["limits_when_redis_away"]["local"]
        metrics = httpx.get(cluster.gateways[0].ops + "/metrics", timeout=5).text
        assert "labgate_redis_up 0.0" in metrics
    finally:
        redis_module.start()
    while not all(r["checks"]["replica"]["redis"]["up"] for r in _readyz(cluster)):
        await asyncio.sleep(0.05)
    back = await _calls(cluster.proxy, guarded, "testcap_echo", echo, 6, 3)
    assert [r.status_code for r in back if isinstance(r, httpx.Response)] == [200] * 6


async def _pg_rows(dsn: str, request_ids: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT request_id, count(*) AS n FROM labgate_audit"
            " WHERE kind = 'call' AND request_id = ANY($1::text[]) GROUP BY request_id",
            request_ids,
        )
    finally:
        await conn.close()
    return {r["request_id"]: r["n"] for r in rows}


def _verify(dsn: str, *replicas: str) -> subprocess.CompletedProcess[str]:
    """``labgate audit verify --dsn DSN --replica R ...``, as an operator runs it."""
    expected = [a for r in replicas for a in ("--replica", r)]
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "audit", "verify", "--dsn", dsn, *expected],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


async def test_a_replica_killed_under_load_loses_nothing(cluster: Cluster) -> None:
    headers = _headers(cluster, "hermes")
    victim = cluster.gateways[2]

    async def kill_midway() -> None:
        await asyncio.sleep(0.5)
        victim.kill()

    load = _calls(cluster.proxy, headers, "testcap_echo", {"text": "load"}, 300, 12)
    results, _ = await asyncio.gather(load, kill_midway())
    answered = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 200]
    # The others continue: most calls are answered, and calls after the kill too.
    assert len(answered) >= 200
    assert victim.proc.poll() is not None
    after = await _calls(cluster.proxy, headers, "testcap_echo", {"text": "after"}, 20, 4)
    assert [r.status_code for r in after if isinstance(r, httpx.Response)] == [200] * 20
    # The killed replica's journal holds what it answered; started again, it ships it.
    cluster.restart(2)
    ids = [r.json()["request_id"] for r in answered]
    dsn = cluster.config["postgres"]["dsn"]
    while len(found := await _pg_rows(dsn, ids)) < len(ids):
        await asyncio.sleep(0.2)
    assert set(found) == set(ids)
    assert set(found.values()) == {1}  # exactly once
    verified = _verify(dsn, "gw-0", "gw-1", "gw-2")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    foreign = _verify(dsn, "gw-0", "gw-1", "gw-9")
    assert foreign.returncode == 1
    assert "replica-missing: no record of replica 'gw-9'" in foreign.stdout
    assert "replica-foreign" in foreign.stdout and "'gw-2'" in foreign.stdout


async def test_the_kill_switch_reaches_every_replica(cluster: Cluster) -> None:
    headers = _headers(cluster, "hermes")
    gateway_yaml = cluster.policies / "gateway.yaml"
    original = gateway_yaml.read_text()
    assert "kill_switch: false" in original
    gateway_yaml.write_text(original.replace("kill_switch: false", "kill_switch: true"))
    written = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            async def stopped(base: str) -> float:
                while True:
                    r = await client.post(
                        base + "/v1/tools/testcap_echo", headers=headers, json={"text": "k"}
                    )
                    if r.status_code == 503:
                        return time.monotonic() - written
                    await asyncio.sleep(0.01)

            latencies = await asyncio.gather(*(stopped(g.base) for g in cluster.gateways))
        print(
            f"kill switch reached {len(latencies)} replicas in "
            + ", ".join(f"{s:.3f} s" for s in latencies)
        )
        versions = {r["checks"]["replica"]["policy_version"] for r in _readyz(cluster)}
        assert len(versions) == 1
    finally:
        gateway_yaml.write_text(original)
