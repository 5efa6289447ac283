"""``labgate serve --workers 2``: two processes on one socket, each its own journal and chain."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from gateway.workers import worker_journal, worker_journals
from tests.support.live import live_config, token_headers
from tests.support.net import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


def _two_free_ports() -> int:
    """A loopback port ``p`` with ``p + 1`` free too (worker I listens on ``p + I``)."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def _replicas(journal: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return {json.loads(r)["replica"] for (r,) in conn.execute("SELECT record FROM journal")}
    finally:
        conn.close()


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def _cursor_key_file(pid: int) -> str | None:
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        name, _, value = item.partition(b"=")
        if name == b"LABGATE_CURSOR_KEY_FILE":
            return value.decode()
    return None


def test_workers_share_the_socket_and_keep_their_own_chains(tmp_path: Path) -> None:
    port, ops = free_port(), _two_free_ports()
    config = {
        **live_config(tmp_path),
        "journal_path": str(tmp_path / "audit.db"),
        "listen": {"host": "127.0.0.1", "port": port},
        "operator_listen": {"host": "127.0.0.1", "port": ops},
        "replica": {"id": "box"},
    }
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(yaml.safe_dump(config))
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--config", str(cfg), "serve", "--workers", "2"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for i in range(2):  # each worker answers on its own operator port
            while True:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    r = httpx.get(f"http://127.0.0.1:{ops + i}/readyz", timeout=2)
                    if r.status_code == 200:
                        assert r.json()["checks"]["replica"]["id"] == f"box-w{i}"
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        # One cursor key for both workers (none configured: the supervisor's private file).
        keys = {_cursor_key_file(int(c)) for c in _children(proc.pid)}
        assert len(keys) == 1 and None not in keys
        key_file = Path(str(keys.pop()))
        assert key_file.stat().st_mode & 0o077 == 0
        headers = token_headers(tmp_path)
        journals = [worker_journal(tmp_path / "audit.db", i) for i in range(2)]
        seen: set[str] = set()
        # Each call on a new connection: the kernel hands each to one of the workers.
        while seen != {"box-w0", "box-w1"}:
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/tools/testcap_echo",
                headers={**headers, "connection": "close"},
                json={"text": "hi"},
                timeout=10,
            )
            assert r.status_code == 200, r.text
            seen = set().union(*(_replicas(j) for j in journals))
        # A worker killed -9 is started again on its own journal; its chain goes on.
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 2
        victim = int(children[1])
        argv = Path(f"/proc/{victim}/cmdline").read_bytes().split(b"\0")
        index = int(argv[argv.index(b"--worker") + 1])
        os.kill(victim, signal.SIGKILL)
        while True:
            now = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            if len(now) == 2 and str(victim) not in now:
                try:
                    ready = httpx.get(f"http://127.0.0.1:{ops + index}/readyz", timeout=2)
                    if ready.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert not key_file.exists()
    finally:
        stop_process(proc)
        log.close()
    # One journal, one chain, one replica each; audit verify finds both beside journal_path.
    assert worker_journals(tmp_path / "audit.db") == journals
    assert [_replicas(j) for j in journals] == [{"box-w0"}, {"box-w1"}]
    verified = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(cfg), "audit", "verify"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("chain intact") == 2
