"""A real Prometheus (Debian's ``prometheus`` package) for tests, on a free loopback port.

    with prometheus_server(tmp_path, config) as prom:   # config: a prometheus.yml as a dict
        prom.query('labgate_calls_total')               # -> the API's ``data.result`` list
        prom.get('/api/v1/rules')                       # -> the API's ``data``

The server gets its own storage directory under ``tmp`` and is stopped (SIGTERM, then
SIGKILL) when the block ends; nothing else is started or stopped. Needs
``tests/support/install_deploy.sh`` to have run (``make test`` does).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.support.net import free_port, stop_process

__all__ = ["PrometheusServer", "prometheus_binary", "prometheus_server", "wait_for"]

T = TypeVar("T")


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").is_file() else None
    )
    if found is None:
        pytest.fail("prometheus is missing: run tests/support/install_deploy.sh")
    return found


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Call ``probe`` until it returns something other than None (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.25)


@dataclass
class PrometheusServer:
    proc: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(self.base + path, params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=promql)
        result: list[dict[str, Any]] = data["result"]
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def prometheus_server(
    tmp: Path, config: dict[str, Any], timeout: float = 30.0
) -> Iterator[PrometheusServer]:
    binary = prometheus_binary()
    workdir = tmp / "prometheus"
    workdir.mkdir()
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(proc, f"http://127.0.0.1:{port}", log_path)
    try:

        def ready() -> bool | None:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{server.log()}")
            try:
                return httpx.get(server.base + "/-/ready", timeout=1).status_code == 200 or None
            except httpx.HTTPError:
                return None

        wait_for(ready, timeout, "prometheus to be ready")
        yield server
    finally:
        stop_process(proc, timeout=15)
