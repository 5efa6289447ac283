"""The gateway as a real process under uvicorn: serve, reload, crash, refuse bad config."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.live import ROOT, live_config, running, token_headers


def _journal_request_ids(path: Path) -> set[str]:
    import json

    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT record FROM journal").fetchall()
    return {json.loads(r[0]).get("request_id") for r in rows}


def test_serves_calls_reloads_and_reports(tmp_path: Path) -> None:
    config = live_config(tmp_path)
    with running(tmp_path, config) as live:
        auth = token_headers(tmp_path)
        r = httpx.post(live.base + "/v1/tools/testcap_echo", json={"text": "hi"}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["result"]["text"] == "hi"
        assert httpx.get(live.ops + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(live.ops + "/readyz").json()
        assert ready["checks"]["journal"]["writable"] is True
        metrics = httpx.get(live.ops + "/metrics").text
        assert 'labgate_calls_total{decision="allow",face="rest",tool="testcap_echo"}' in metrics
        # The operator endpoints are not on the agent listener.
        assert httpx.get(live.base + "/metrics").status_code == 404

        # A kill-switch edit denies the next calls without a restart (file watcher). The time
        # it takes is printed, not asserted (a loaded machine is slow); 60 s means it never did.
        global_policy = Path(config["policy_dir"]) / "gateway.yaml"
        global_policy.write_text(
            global_policy.read_text().replace("kill_switch: false", "kill_switch: true")
        )
        started = time.monotonic()
        while time.monotonic() - started < 60:
            r = httpx.post(live.base + "/v1/tools/testcap_echo", json={"text": "hi"}, headers=auth)
            if r.status_code == 503:
                break
            time.sleep(0.02)
        assert r.status_code == 503, "kill switch never took effect"
        print(f"kill switch in force after {time.monotonic() - started:.3f} s")

        # An invalid edit is refused, shown in /readyz, and the last good set stays (SIGHUP path).
        (Path(config["policy_dir"]) / "testcap.yaml").write_text(
            "capability: testcap\nrules: [oops\n"
        )
        live.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            ready_r = httpx.get(live.ops + "/readyz")
            if ready_r.status_code == 503:
                break
            time.sleep(0.05)
        assert ready_r.status_code == 503
        assert "testcap.yaml:" in ready_r.json()["checks"]["policy"]["last_error"]
        r = httpx.post(live.base + "/v1/tools/testcap_echo", json={"text": "hi"}, headers=auth)
        assert r.status_code == 503  # kill switch of the last good set still in force


def test_sigkill_under_load_loses_no_answered_call(tmp_path: Path) -> None:
    config = live_config(tmp_path)
    with running(tmp_path, config) as live:
        auth = token_headers(tmp_path)
        answered: list[str] = []

        async def hammer() -> None:
            async with httpx.AsyncClient(base_url=live.base, headers=auth, timeout=5) as client:

                async def worker() -> None:
                    while True:
                        try:
                            r = await client.post("/v1/tools/testcap_echo", json={"text": "load"})
                        except httpx.HTTPError:
                            return
                        if r.status_code == 200:
                            answered.append(r.json()["request_id"])

                tasks = [asyncio.ensure_future(worker()) for _ in range(16)]
                while len(answered) < 300:
                    await asyncio.sleep(0.01)
                live.kill()  # SIGKILL mid-load
                await asyncio.gather(*tasks)

        asyncio.run(asyncio.wait_for(hammer(), 60))
        assert live.proc.returncode == -signal.SIGKILL
        journaled = _journal_request_ids(live.journal)
        missing = [rid for rid in answered if rid not in journaled]
        assert len(answered) >= 300
        assert missing == []


def _serve_exit(tmp_path: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = {**os.environ, "LABGATE_CONFIG": str(cfg), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_invalid_configuration_stops_startup_naming_the_key(tmp_path: Path) -> None:
    config = live_config(tmp_path) | {"listen": {"host": "127.0.0.1", "port": 99999}}
    done = _serve_exit(tmp_path, config)
    assert done.returncode == 2
    assert "listen.port" in done.stderr

    config = _config_fresh(tmp_path / "b")
    config["capabilities"] = {"testcap": {"items": -1}}
    done = _serve_exit(tmp_path, config)
    assert done.returncode == 2
    assert "capabilities.testcap.items" in done.stderr


def _config_fresh(tmp: Path) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    return live_config(tmp)


def test_dev_issuer_refuses_non_loopback_bind(tmp_path: Path) -> None:
    config = live_config(tmp_path) | {"listen": {"host": "0.0.0.0", "port": 0}}
    done = _serve_exit(tmp_path, config)
    assert done.returncode == 2
    assert "loopback" in done.stderr


@pytest.mark.parametrize("missing", ["auth"])
def test_production_without_auth_section_refuses_to_start(tmp_path: Path, missing: str) -> None:
    config = {k: v for k, v in live_config(tmp_path).items() if k != missing}
    done = _serve_exit(tmp_path, config)
    assert done.returncode == 2
    assert "auth" in done.stderr
