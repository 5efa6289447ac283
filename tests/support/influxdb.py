"""A real InfluxDB 1.x (Debian's ``influxd``) for tests: loopback, free ports, auth on.

Fixtures (register this module with ``pytest_plugins``):

* ``influxdb_server`` (session): a running server with an admin user and a database
  ``astro`` with a read-only user; seed it with :meth:`InfluxServer.write` (admin).
  Skipped, with the reason, when ``influxd`` is not installed
  (``tests/support/install_influxdb.sh`` installs it).

The server is started once per session in a temporary directory and stopped (the one
process this module started) at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.net import free_port, stop_process

__all__ = ["InfluxServer", "free_port", "influxdb_server", "start_influxd"]

ADMIN = ("labgate_admin", "admin-secret-for-tests")
READER = ("labgate_reader", "reader-secret-for-tests")
DATABASE = "astro"

_CONFIG = """\
reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[coordinator]
  max-select-point = 0
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = true
  log-enabled = false
  max-row-limit = {max_row_limit}
  flux-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""


@dataclass
class InfluxServer:
    url: str
    database: str
    admin: tuple[str, str]
    reader: tuple[str, str]
    max_row_limit: int

    def query(self, q: str, *, admin: bool = True, **params: Any) -> dict[str, Any]:
        """POST one statement (with optional bound ``params``) and return the JSON body."""
        data: dict[str, str] = {"q": q, "db": self.database}
        if params:
            import json

            data["params"] = json.dumps(params)
        auth = self.admin if admin else self.reader
        r = httpx.post(f"{self.url}/query", data=data, auth=auth, timeout=30)
        body: dict[str, Any] = r.json()
        body["_status"] = r.status_code
        return body

    def write(self, lines: list[str], *, precision: str = "s") -> None:
        """Write line protocol as the admin, in batches."""
        for i in range(0, len(lines), 5000):
            chunk = "\n".join(lines[i : i + 5000])
            r = httpx.post(
                f"{self.url}/write",
                params={"db": self.database, "precision": precision},
                content=chunk.encode(),
                auth=self.admin,
                timeout=60,
            )
            if r.status_code != 204:
                raise RuntimeError(f"write failed: {r.status_code} {r.text[:300]}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"influxd exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ping", timeout=1).status_code == 204:
                return
        time.sleep(0.05)
    raise RuntimeError("influxd did not become ready")


@contextlib.contextmanager
def start_influxd(max_row_limit: int = 0) -> Iterator[InfluxServer]:
    """Start influxd in a temporary directory; yield a handle; stop it and clean up."""
    binary = shutil.which("influxd")
    if binary is None:
        raise FileNotFoundError("influxd")
    root = Path(tempfile.mkdtemp(prefix="labgate-influxd-"))
    http_port, rpc_port = free_port(), free_port()
    conf = root / "influxdb.conf"
    conf.write_text(
        _CONFIG.format(
            root=root, http_port=http_port, rpc_port=rpc_port, max_row_limit=max_row_limit
        )
    )
    log = (root / "influxd.log").open("wb")
    proc = subprocess.Popen(  # the one process this fixture owns
        [binary, "-config", str(conf)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_ready(url, proc, time.monotonic() + 20)
        server = InfluxServer(url, DATABASE, ADMIN, READER, max_row_limit)
        _bootstrap(server)
        yield server
    finally:
        stop_process(proc)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _bootstrap(server: InfluxServer) -> None:
    url = f"{server.url}/query"
    admin_user, admin_pw = server.admin
    reader_user, reader_pw = server.reader
    # With auth on and no users yet, the first statement may create the admin unauthenticated.
    r = httpx.post(
        url, data={"q": f"CREATE USER {admin_user} WITH PASSWORD '{admin_pw}' WITH ALL PRIVILEGES"}
    )
    r.raise_for_status()
    for q in (
        f"CREATE DATABASE {server.database}",
        f"CREATE USER {reader_user} WITH PASSWORD '{reader_pw}'",
        f"GRANT READ ON {server.database} TO {reader_user}",
    ):
        r = httpx.post(url, data={"q": q}, auth=server.admin)
        r.raise_for_status()
        if "error" in r.text:
            raise RuntimeError(f"bootstrap failed on {q.split()[0]}: {r.text[:200]}")


@pytest.fixture(scope="session")
def influxdb_server() -> Iterator[InfluxServer]:
    if shutil.which("influxd") is None:
        pytest.fail("influxd not installed: run tests/support/install_influxdb.sh (make test does)")
    with start_influxd() as server:
        yield server
