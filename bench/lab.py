"""The processes of one run: issuer (thread), upstream stub, baseline, gateway, database.

with Lab(tmp) as lab:
    seconds = lab.start_gateway()      # spawn -> /readyz 200
    lab.rest_call(...), lab.mcp_call(...)
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from bench.issuer import LocalIssuer
from bench.paperless import ADMIN_TOKEN
from bench.procs import Proc, spawn
from bench.serving import free_port
from bench.target import create_database, drop_database, gateway_config

__all__ = ["MCP_VERSION", "Lab", "Request"]

MCP_VERSION = "2026-07-28"
MCP_SESSION_VERSION = "2025-11-25"
Request = tuple[str, str, dict[str, str], str | None]  # method, url, headers, body


class Lab:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.issuer = LocalIssuer()
        self.dsn = ""
        self.stub: Proc | None = None
        self.hello: Proc | None = None
        self.gateway: Proc | None = None
        self.paperless: Proc | None = None
        self.stub_url = self.hello_url = self.base = self.ops = self.paperless_url = ""
        self.config_path = tmp / "gateway.yaml"
        self.token = ""

    def __enter__(self) -> Lab:
        try:
            self.dsn = asyncio.run(create_database())
            self.issuer.start()
            self.token = self.issuer.mint()
            stub_port, hello_port = free_port(), free_port()
            self.stub = spawn("stub", ["-m", "bench.stub", str(stub_port)], self.tmp / "stub.log")
            self.hello = spawn(
                "hello", ["-m", "bench.hello", str(hello_port)], self.tmp / "hello.log"
            )
            self.stub_url = f"http://127.0.0.1:{stub_port}"
            self.hello_url = f"http://127.0.0.1:{hello_port}"
            url_file = self.tmp / "paperless.url"
            self.paperless = spawn(
                "paperless", ["-m", "bench.paperless", str(url_file)], self.tmp / "paperless.log"
            )
            self.stub.wait_http(self.stub_url + "/count/none")
            self.hello.wait_http(self.hello_url + "/ready")
            self.paperless_url = _wait_for_file(url_file, self.paperless)
            port, ops_port = free_port(), free_port()
            config = gateway_config(
                self.tmp,
                issuer=self.issuer.issuer,
                stub_url=self.stub_url,
                dsn=self.dsn,
                port=port,
                ops_port=ops_port,
                paperless_url=self.paperless_url,
                paperless_token=ADMIN_TOKEN,
            )
            self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
            self.base = f"http://127.0.0.1:{port}"
            self.ops = f"http://127.0.0.1:{ops_port}"
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proc in (self.gateway, self.hello, self.stub, self.paperless):
            if proc is not None:
                proc.stop()
        self.issuer.stop()
        if self.dsn:
            asyncio.run(drop_database(self.dsn))
            self.dsn = ""

    # -- the gateway -------------------------------------------------------------------------

    def start_gateway(self, synchronous: str | None = None) -> float:
        """Spawn ``labgate serve``; seconds from spawn to ``/readyz`` 200.

        ``synchronous``: run with that ``journal_synchronous`` (and a journal of its own)."""
        log = self.tmp / f"gateway-{uuid.uuid4().hex[:6]}.log"
        config = self.config_path
        if synchronous is not None:
            data = yaml.safe_load(self.config_path.read_text())
            data["journal_synchronous"] = synchronous
            data["journal_path"] = str(self.tmp / f"audit-{synchronous.lower()}.db")
            config = self.tmp / f"gateway-{synchronous.lower()}.yaml"
            config.write_text(yaml.safe_dump(data, sort_keys=False))
        args = ["-m", "gateway.cli", "--config", str(config), "serve"]
        self.gateway = spawn("gateway", args, log)
        return self.gateway.wait_http(self.ops + "/readyz", timeout=60)

    def stop_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None

    @property
    def gateway_pid(self) -> int:
        assert self.gateway is not None
        return self.gateway.pid

    # -- requests ----------------------------------------------------------------------------

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def hello_request(self) -> Request:
        body = json.dumps({"key": "k1"})
        return "POST", self.hello_url + "/hello", {"Content-Type": "application/json"}, body

    def rest_request(self, tool: str, args: dict[str, Any]) -> Request:
        return "POST", f"{self.base}/v1/tools/{tool}", self.auth(), json.dumps(args)

    def mcp_request(self, tool: str, args: dict[str, Any]) -> Request:
        """A 2026-07-28 era ``tools/call``: one self-contained POST, no session."""
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": tool,
                "arguments": args,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MCP_VERSION,
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
        headers = {
            **self.auth(),
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MCP_VERSION,
            "Mcp-Method": "tools/call",
            "Mcp-Name": tool,
        }
        return "POST", self.base + "/mcp", headers, json.dumps(body)

    def mcp_session_request(self, tool: str, args: dict[str, Any]) -> Request:
        """A 2025-11-25 era ``tools/call`` inside a session opened here (initialize, then
        ``notifications/initialized``); every wrk connection reuses that session."""
        headers = {**self.auth(), "Accept": "application/json, text/event-stream"}
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": MCP_SESSION_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "labgate-bench", "version": "1"},
            },
        }
        with httpx.Client(trust_env=False, timeout=10) as c:
            r = c.post(self.base + "/mcp", json=init, headers=headers)
            r.raise_for_status()
            headers["Mcp-Session-Id"] = r.headers["mcp-session-id"]
            headers["MCP-Protocol-Version"] = MCP_SESSION_VERSION
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            c.post(self.base + "/mcp", json=note, headers=headers).raise_for_status()
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": args},
        }
        return "POST", self.base + "/mcp", headers, json.dumps(body)

    def mcp_status(self) -> str:
        """``"ok"`` when /mcp answers a tools/call with a result; otherwise why not."""
        method, url, headers, body = self.mcp_request("bench_lookup", {"key": "k1"})
        with httpx.Client(trust_env=False, timeout=10) as c:
            r = c.request(method, url, headers=headers, content=body)
        if r.status_code == 404:
            return "/mcp is not mounted in this build"
        if r.status_code != 200:
            return f"/mcp answered HTTP {r.status_code}"
        try:
            result = r.json().get("result", {})
        except ValueError:
            return "/mcp answered something that is not JSON"
        if not isinstance(result, dict) or result.get("isError") or "content" not in result:
            return "/mcp tools/call did not return a tool result"
        return "ok"


def _wait_for_file(path: Path, proc: Proc, timeout: float = 30.0) -> str:
    """The text ``proc`` writes to ``path`` once it serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and (text := path.read_text().strip()):
            return text
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.log()}")
        time.sleep(0.01)
    raise RuntimeError(f"{proc.name} did not start in {timeout} s:\n{proc.log()}")
