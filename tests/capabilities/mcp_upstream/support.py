"""Fronting real MCP servers in tests: the servers' configurations, accepting their tools, and
the whole gateway (REST, MCP, exports) over them."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.auth.dev import DevIssuer
from gateway.registry import registry_for
from gateway.runtime import Runtime
from gateway.settings import Settings, load_settings
from tests.support.faces import NOON, Faces

SUPPORT = Path(__file__).resolve().parents[2] / "support"
SERVERS = SUPPORT / "mcpservers"
EVERYTHING = (
    SUPPORT
    / "mcpeverything"
    / "node_modules"
    / "@modelcontextprotocol"
    / "server-everything"
    / "dist"
    / "index.js"
)
GLOBAL_POLICY = "kill_switch: false\nmax_result_chars: 50000\ntool_timeout_seconds: 20\n"


def python_server(script: str) -> dict[str, Any]:
    """A stdio server written with the Python SDK, run by this interpreter."""
    return {"transport": "stdio", "command": sys.executable, "args": [str(SERVERS / script)]}


def everything_stdio() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not EVERYTHING.is_file():
        pytest.skip(
            "server-everything is not installed: run tests/support/install_mcp_everything.sh"
        )
    return {"transport": "stdio", "command": node, "args": [str(EVERYTHING), "stdio"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def http_server(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run an MCP server over Streamable HTTP on ``port`` until the block ends."""
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
    proc = subprocess.Popen(
        argv, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:  # wait for the port to open (the process exiting ends the wait)
            if proc.poll() is not None:
                raise RuntimeError(f"MCP server exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def settings_for(
    tmp: Path, policy_dir: Path, servers: dict[str, dict[str, Any]], **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "auth": {"mode": "dev", "dev": {"key_file": str(tmp / "dev-key.pem")}},
        "policy_dir": str(policy_dir),
        "journal_path": str(tmp / "audit.db"),
        "watch_policies": False,
        "capabilities": {"mcp_upstream": {"servers": servers}},
        **extra,
    }
    return load_settings(None, **values)


def write_policies(policy_dir: Path, policies: dict[str, str]) -> None:
    policy_dir.mkdir(parents=True, exist_ok=True)
    (policy_dir / "gateway.yaml").write_text(GLOBAL_POLICY)
    for name, text in policies.items():
        (policy_dir / f"{name}.yaml").write_text(text)


def accept(settings: Settings, server: str, action: str = "accept") -> tuple[int, str]:
    """``labgate mcp-upstream accept SERVER`` (in this process; it connects on its own)."""
    from capabilities.mcp_upstream.command import run

    out = io.StringIO()
    code = run(settings.capabilities["mcp_upstream"], action, server, settings.policy_dir, out)
    return code, out.getvalue()


async def accept_async(settings: Settings, server: str, action: str = "accept") -> tuple[int, str]:
    return await asyncio.to_thread(accept, settings, server, action)


class Lab(Faces):
    """The faces of a gateway, and its runtime (to reach the fronted servers and the journal)."""

    runtime: Runtime


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[Lab]:
    """The whole app over the configured servers (registry built from the settings, as served)."""
    app = create_app(settings, registry=registry_for(settings), clock=lambda: NOON)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
            lab = Lab(c, DevIssuer.from_settings(settings.auth.dev), settings.journal_path)
            lab.runtime = app.state.runtime
            yield lab
