"""Run ``labgate serve`` as a real process (uvicorn) for end-to-end and crash tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.auth.dev import DevIssuer
from gateway.settings import load_settings
from tests.support.gateway_app import FIXTURE_POLICIES
from tests.support.net import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveGateway:
    proc: subprocess.Popen[bytes]
    base: str
    ops: str
    config: dict[str, Any]
    tmp: Path
    log_path: Path

    @property
    def journal(self) -> Path:
        return Path(self.config["journal_path"])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_gateway(tmp: Path, config: dict[str, Any], timeout: float = 20.0) -> LiveGateway:
    port, ops_port = free_port(), free_port()
    config = {
        "journal_path": str(tmp / "audit.db"),
        **config,
        # Listener settings in ``config`` (bounds) are kept; the address is picked here.
        "listen": {**config.get("listen", {}), "host": "127.0.0.1", "port": port},
        "operator_listen": {
            **config.get("operator_listen", {}),
            "host": "127.0.0.1",
            "port": ops_port,
        },
    }
    cfg_path = tmp / "gateway.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "LABGATE_CONFIG": str(cfg_path), "PYTHONPATH": str(ROOT)}
    log_path = tmp / "gateway.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live = LiveGateway(
        proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ops_port}", config, tmp, log_path
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{live.log()}")
        try:
            # Ready, and the agent listener bound (it binds after the lifespan that makes ready).
            if httpx.get(live.ops + "/readyz", timeout=1).status_code == 200:
                httpx.get(live.base + "/healthz", timeout=1)
                return live
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    live.kill()
    raise RuntimeError(f"gateway not ready in {timeout} s:\n{live.log()}")


def stop_gateway(live: LiveGateway) -> None:
    stop_process(live.proc)


@contextmanager
def running(tmp: Path, config: dict[str, Any]) -> Iterator[LiveGateway]:
    live = start_gateway(tmp, config)
    try:
        yield live
    finally:
        stop_gateway(live)


@pytest.fixture
def live_gateway(tmp_path: Path) -> Callable[[dict[str, Any]], Any]:
    return lambda config: running(tmp_path, config)


def live_config(tmp: Path) -> dict[str, Any]:
    """Settings for ``tests.support.live.running``: fixture policies copied (so they can be
    edited), dev auth with a key file in ``tmp``, the test capability."""
    policies = tmp / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    return {
        "auth": {"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}},
        "policy_dir": str(policies),
        "extra_capabilities": ["tests.support.testcap:CAPABILITY"],
        "capabilities": {"testcap": {}},
    }


def token_headers(
    tmp: Path, client_id: str = "hermes", groups: tuple[str, ...] = ("agents",)
) -> dict[str, str]:
    settings = load_settings(
        None, auth={"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}}
    )
    issuer = DevIssuer.from_settings(settings.auth.dev)
    token = issuer.mint(f"sub-{client_id}", client_id=client_id, groups=list(groups))
    return {"Authorization": "Bearer " + token}
