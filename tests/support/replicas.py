"""Three gateway processes behind haproxy, sharing one Redis, one PostgreSQL and one checkout.

    with Cluster(tmp, redis_url, pg_dsn) as cluster:
        cluster.proxy                 # http://127.0.0.1:<port>, haproxy round-robin
        cluster.gateways[i]           # tests.support.live.LiveGateway (replica gw-<i>)
        cluster.upstream.count        # requests the counting upstream has served
        cluster.restart(i)            # start replica i again on its journal (a new address,
                                      # not behind haproxy: it ships what it journaled)

The upstream is a loopback HTTP server that counts its requests and answers ``{"n": 1}``
after ``delay`` seconds; the declarative tool ``declarative_replica_count`` reads it. Policies
(one directory, watched by every replica) come from ``tests/fixtures/policies`` plus
:data:`EXTRA_POLICIES`. haproxy is Debian's (tests/support/install_replicas.sh).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

from tests.support.live import LiveGateway, live_config, start_gateway, stop_gateway
from tests.support.net import free_port, stop_process

__all__ = ["Cluster", "CountingUpstream"]

TOOL = """\
name: declarative_replica_count
title: Replica count
description: Reads the counting upstream of the replica tests.
upstream: counting
request: {path: /count, query: {}}
args: {}
response: {shape: object, projection: "{n: n}", max_bytes: 4096}
fields:
  n: {type: integer, required: true}
"""

EXTRA_POLICIES = {
    "declarative.yaml": """\
capability: declarative
rules:
  - id: cached-count
    who: {clients: [hermes]}
    tools: [declarative_replica_count]
    cache: {ttl_seconds: 300}
""",
    "testcap.yaml": """\
  - id: ten-per-hour
    who: {clients: [burst]}
    tools: [testcap_echo]
    limits: {rate: 10/hour, burst: 10}
  - id: guarded
    who: {clients: [guarded]}
    tools: [testcap_echo]
    limits: {rate: 1000/hour}
  - id: local-when-away
    who: {clients: [relaxed]}
    tools: [testcap_echo]
    limits: {rate: 1000/hour, fallback: local}
""",
}


class CountingUpstream:
    """Counts GET /count requests; each answer waits ``delay`` seconds (calls overlap)."""

    def __init__(self, delay: float = 0.5) -> None:
        self.count = 0
        self.delay = delay
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    outer.count += 1
                time.sleep(outer.delay)
                body = b'{"n": 1}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


HAPROXY = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
    retry-on conn-failure
frontend agents
    bind 127.0.0.1:{port}
    default_backend gateways
backend gateways
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


class Cluster:
    def __init__(self, tmp: Path, redis_url: str, pg_dsn: str, replicas: int = 3) -> None:
        self.tmp = tmp
        self.replicas = replicas
        self.upstream = CountingUpstream()
        self.policies = tmp / "policies"
        tools = tmp / "tools"
        tools.mkdir()
        (tools / "replica_count.yaml").write_text(TOOL)
        base = live_config(tmp)
        for name, text in EXTRA_POLICIES.items():
            path = self.policies / name
            path.write_text((path.read_text() if path.exists() else "") + text)
        self.config: dict[str, Any] = {
            **base,
            "capabilities": {"testcap": {}, "declarative": {"directory": str(tools)}},
            "upstreams": {"counting": {"base_url": self.upstream.url, "retries": 0}},
            "redis": {"url": redis_url, "probe_interval_seconds": 0.1},
            "postgres": {"dsn": pg_dsn, "batch_size": 200},
            "replica": {"expected": [f"gw-{i}" for i in range(replicas)]},
        }
        self.gateways: list[LiveGateway] = []
        self.proxy = ""
        self._haproxy: subprocess.Popen[bytes] | None = None

    def _gateway_config(self, i: int) -> dict[str, Any]:
        return {
            **self.config,
            "replica": {**self.config["replica"], "id": f"gw-{i}"},
            "journal_path": str(self.tmp / f"gw-{i}" / "audit.db"),
        }

    def start(self) -> None:
        for i in range(self.replicas):
            home = self.tmp / f"gw-{i}"
            home.mkdir(exist_ok=True)
            self.gateways.append(start_gateway(home, self._gateway_config(i)))
        self._start_haproxy()

    def restart(self, i: int) -> LiveGateway:
        """Start replica ``i`` again on its own journal (on a new address, not behind haproxy)."""
        stop_gateway(self.gateways[i])
        self.gateways[i] = start_gateway(self.tmp / f"gw-{i}", self._gateway_config(i))
        return self.gateways[i]

    def _start_haproxy(self) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            pytest.fail("haproxy is missing: run tests/support/install_replicas.sh")
        port = free_port()
        servers = "\n".join(
            f"    server gw{i} {g.base.removeprefix('http://')}"
            f" check port {g.ops.rsplit(':', 1)[1]} inter 200 fall 1 rise 2"
            for i, g in enumerate(self.gateways)
        )
        cfg = self.tmp / "haproxy.cfg"
        cfg.write_text(HAPROXY.format(port=port, servers=servers))
        with (self.tmp / "haproxy.log").open("wb") as log:
            self._haproxy = subprocess.Popen(
                [binary, "-f", str(cfg), "-db"], stdout=log, stderr=subprocess.STDOUT
            )
        self.proxy = f"http://127.0.0.1:{port}"
        while True:
            if self._haproxy.poll() is not None:
                raise RuntimeError((self.tmp / "haproxy.log").read_text())
            try:
                # 401: a gateway answered through the proxy (haproxy says 503 until then).
                if httpx.get(self.proxy + "/v1/tools", timeout=1).status_code == 401:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)

    def stop(self) -> None:
        if self._haproxy is not None:
            stop_process(self._haproxy)
        for g in self.gateways:
            stop_gateway(g)
        self.upstream.close()

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
