"""The MCP face end to end: the official Python and TypeScript MCP clients against labgate
served by uvicorn on a free loopback port, with real tokens from the OIDC provider fixture.

The gateway runs the test capability under tests/fixtures/policies plus one rule that lets
``other-agent`` call ``testcap_echo`` only, so the two OIDC clients see different tool lists.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
import yaml
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from gateway.app import create_app
from gateway.audit.reader import JournalReader
from gateway.registry import Registry
from gateway.settings import load_settings
from tests.support import testcap
from tests.support.net import free_port, stop_process
from tests.support.oidc import OidcProvider

FIXTURE_POLICIES = Path(__file__).resolve().parents[2] / "fixtures" / "policies"
MCPJS = Path(__file__).resolve().parents[2] / "support" / "mcpjs"
REPO = Path(__file__).resolve().parents[3]
HERMES_TOOLS = {"testcap_echo", "testcap_list", "testcap_slow", "testcap_fail"}
MODERN = "2026-07-28"


@dataclass
class Live:
    base: str
    journal: Path
    oidc: OidcProvider
    log: Path

    @property
    def url(self) -> str:
        return self.base + "/mcp"

    def records(self, request_ids: set[str] | None = None) -> list[dict[str, Any]]:
        with JournalReader(self.journal) as reader:
            found = [json.loads(row.record) for row in reader.iter_rows()]
        calls = [r for r in found if r.get("kind") == "call"]
        if request_ids is None:
            return calls
        return [r for r in calls if r.get("request_id") in request_ids]


def serve(config_file: str) -> None:
    """Entry of the gateway process: settings from a JSON file, uvicorn on the given port."""
    spec = json.loads(Path(config_file).read_text())
    settings = load_settings(None, **spec)
    app = create_app(settings, registry=Registry([testcap.CAPABILITY]))
    uvicorn.run(app, host="127.0.0.1", port=settings.listen.port, log_level="warning", ws="none")


def wait_ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}")
        try:
            if httpx.get(base + "/.well-known/oauth-protected-resource", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the gateway did not start in time")


@pytest.fixture(scope="module")
def live(oidc_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("mcp-live")
    policies = tmp / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    doc = yaml.safe_load((policies / "testcap.yaml").read_text())
    doc["rules"].append(
        {"id": "other-agent-echo", "who": {"clients": ["other-agent"]}, "tools": ["testcap_echo"]}
    )
    (policies / "testcap.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    spec = {
        "public_url": base,
        "listen": {"host": "127.0.0.1", "port": port},
        "auth": {
            "mode": "oidc",
            "oidc": {"issuer": oidc_provider.issuer, "audience": [oidc_provider.audience]},
        },
        "policy_dir": str(policies),
        "journal_path": str(tmp / "audit.db"),
        "capabilities": {"testcap": {}},
        "watch_policies": False,
    }
    (tmp / "gateway.json").write_text(json.dumps(spec))
    # The child gets its settings from the file only, never from a LABGATE_* variable.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABGATE_")}
    code = f"from {__name__} import serve; serve({str(tmp / 'gateway.json')!r})"
    with (tmp / "gateway.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, env=env, stdout=log, stderr=log
        )
    try:
        wait_ready(process, base)
        yield Live(base=base, journal=tmp / "audit.db", oidc=oidc_provider, log=tmp / "gateway.log")
    finally:
        stop_process(process, timeout=20)


@pytest.fixture(scope="module")
def hermes_token(live: Live) -> str:
    return live.oidc.token("hermes")


@pytest.fixture(scope="module")
def other_token(live: Live) -> str:
    return live.oidc.token("other-agent")


@asynccontextmanager
async def py_client(url: str, token: str, mode: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


def text_json(result: Any) -> dict[str, Any]:
    """The JSON object in the first text block of a CallToolResult (Python or TS shape)."""
    content = result.content if hasattr(result, "content") else result["content"]
    first = content[0]
    text = first.text if hasattr(first, "text") else first["text"]
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


# -- Python SDK, both eras ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", MODERN, "auto"])
async def test_python_client_lists_and_calls(live: Live, hermes_token: str, mode: str) -> None:
    async with py_client(live.url, hermes_token, mode) as client:
        expected_version = "2025-11-25" if mode == "legacy" else MODERN
        assert client.protocol_version == expected_version
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == HERMES_TOOLS
        for t in listed.tools:
            assert t.annotations is not None
            assert t.annotations.read_only_hint is True
            assert t.annotations.open_world_hint is False
            assert t.output_schema is not None and t.output_schema["type"] == "object"

        result = await client.call_tool("testcap_echo", {"text": "hi", "count": 2})
        assert result.is_error is False
        envelope = result.structured_content
        assert envelope["result"] == {"text": "hihi", "count": 2, "who": envelope["result"]["who"]}
        assert envelope["provenance"]["capability"] == "testcap"
        assert envelope["untrusted"] == ["text"]
        assert text_json(result) == envelope


@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_python_client_sees_denial_as_is_error(
    live: Live, other_token: str, mode: str
) -> None:
    async with py_client(live.url, other_token, mode) as client:
        denied = await client.call_tool("testcap_list", {})
        assert denied.is_error is True
        assert denied.structured_content is None
        body = text_json(denied)
        assert body["code"] == "denied"
        assert body["message"]
        # Not permitted looks the same as not existing.
        unknown = await client.call_tool("testcap_nope", {})
        assert text_json(unknown)["code"] == "denied"
        assert "not permitted" in text_json(unknown)["message"]
        assert "not permitted" in body["message"]


async def test_invalid_arguments_say_what_to_change(live: Live, hermes_token: str) -> None:
    async with py_client(live.url, hermes_token, MODERN) as client:
        result = await client.call_tool("testcap_echo", {"text": ""})
    assert result.is_error is True
    body = text_json(result)
    assert body["code"] == "invalid_arguments"
    assert body["errors"][0]["loc"] == "text"


async def test_upstream_failure_is_safe_is_error(live: Live, hermes_token: str) -> None:
    async with py_client(live.url, hermes_token, "legacy") as client:
        result = await client.call_tool("testcap_fail", {"kind": "crash"})
        unavailable = await client.call_tool("testcap_fail", {"kind": "unavailable"})
    assert result.is_error is True
    text = result.content[0].text  # type: ignore[union-attr]
    assert "hunter2" not in text and "Traceback" not in text
    assert text_json(result)["code"] == "internal_error"
    assert text_json(unavailable)["code"] == "upstream_unavailable"
    assert "10.0.0.5" not in unavailable.content[0].text  # type: ignore[union-attr]


# -- tool lists per principal and per mount -----------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_two_principals_see_their_policies_lists(
    live: Live, hermes_token: str, other_token: str, mode: str
) -> None:
    async with py_client(live.url, hermes_token, mode) as client:
        hermes = {t.name for t in (await client.list_tools()).tools}
    async with py_client(live.url, other_token, mode) as client:
        other = {t.name for t in (await client.list_tools()).tools}
        allowed = await client.call_tool("testcap_echo", {"text": "x"})
    assert hermes == HERMES_TOOLS
    assert other == {"testcap_echo"}
    assert allowed.is_error is False


async def test_capability_mount_serves_only_its_tools(live: Live, hermes_token: str) -> None:
    async with py_client(live.url + "/testcap", hermes_token, MODERN) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("testcap_echo", {"text": "x"})
    assert names == HERMES_TOOLS
    assert result.is_error is False
    async with httpx.AsyncClient() as http:
        missing = await http.post(
            live.url + "/nope",
            headers={"Authorization": f"Bearer {hermes_token}"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        )
    assert missing.status_code == 404


# -- auth ------------------------------------------------------------------------------------


async def test_token_for_another_audience_is_refused(live: Live) -> None:
    token = live.oidc.token("hermes", resource="urn:other")
    async with httpx.AsyncClient() as http:
        response = await http.post(
            live.url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/event-stream",
            },
            json={"jsonrpc": "2.0", "id": 0, "method": "tools/list", "params": {}},
        )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{live.base}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert "tools" not in response.text


async def test_python_client_without_token_fails(live: Live) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the client's error type is its own business
        async with py_client(live.url, "not-a-token", "legacy") as client:
            await client.list_tools()


async def test_resource_metadata_names_issuer_byte_for_byte(live: Live) -> None:
    async with httpx.AsyncClient() as http:
        root = (await http.get(live.base + "/.well-known/oauth-protected-resource/mcp")).json()
        cap = (
            await http.get(live.base + "/.well-known/oauth-protected-resource/mcp/testcap")
        ).json()
    assert root["resource"] == live.url
    assert root["authorization_servers"] == [live.oidc.issuer]
    assert live.oidc.issuer.endswith("/")
    assert cap["resource"] == live.url + "/testcap"


# -- audit -----------------------------------------------------------------------------------


async def test_one_audit_record_per_tools_call(live: Live, hermes_token: str) -> None:
    ids = [f"mcp-audit-{i}-{time.monotonic_ns()}" for i in range(3)]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("testcap_echo", {"text": "a"}),
        ("testcap_list", {"page_size": 99}),
        ("testcap_nope", {}),
    ]
    for rid, (name, args) in zip(ids, calls, strict=True):
        headers = {"Authorization": f"Bearer {hermes_token}", "X-Request-Id": rid}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(live.url, http_client=http)
            async with Client(transport, mode=MODERN) as client:
                await client.list_tools()
                await client.call_tool(name, args)
    records = live.records(set(ids))
    assert sorted(r["request_id"] for r in records) == sorted(ids)
    by_id = {r["request_id"]: r for r in records}
    assert by_id[ids[0]]["face"] == "mcp" and by_id[ids[0]]["decision"] == "allow"
    assert by_id[ids[0]]["client_id"] == "hermes"
    assert by_id[ids[0]]["arguments"] == {"text": "[redacted]", "count": 1}
    assert by_id[ids[1]]["decision"] == "deny"
    assert by_id[ids[2]]["decision"] == "deny" and by_id[ids[2]]["tool"] == "testcap_nope"


# -- TypeScript SDK --------------------------------------------------------------------------


def run_node(spec: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (MCPJS / "node_modules" / "@modelcontextprotocol").is_dir():
        pytest.fail("node or the TypeScript MCP SDK is missing: run tests/support/install_mcpjs.sh")
    done = subprocess.run(
        [node, str(MCPJS / "client.mjs"), json.dumps(spec)],
        cwd=MCPJS,
        capture_output=True,
        timeout=60,
        check=False,
    )
    out = done.stdout.decode().strip().splitlines()
    assert out, done.stderr.decode()[-2000:]
    result: dict[str, Any] = json.loads(out[-1])
    assert done.returncode == 0, result
    return result


@pytest.mark.parametrize(
    ("sdk", "mode", "version"),
    [
        ("v1", "legacy", "2025-11-25"),
        ("v2", "legacy", "2025-11-25"),
        ("v2", MODERN, MODERN),
        ("v2", "auto", MODERN),
    ],
)
async def test_typescript_client(
    live: Live, hermes_token: str, other_token: str, sdk: str, mode: str, version: str
) -> None:
    calls = [{"name": "testcap_echo", "arguments": {"text": "ts", "count": 3}}]
    spec = {"url": live.url, "token": hermes_token, "sdk": sdk, "mode": mode, "calls": calls}
    got = await asyncio.to_thread(run_node, spec)
    assert got["protocolVersion"] == version
    assert {t["name"] for t in got["tools"]} == HERMES_TOOLS
    ok = got["results"][0]
    assert ok.get("isError") in (None, False)
    assert ok["structuredContent"]["result"]["text"] == "tststs"
    assert text_json(ok) == ok["structuredContent"]

    denied_spec = {**spec, "token": other_token, "calls": [{"name": "testcap_list"}]}
    denied = await asyncio.to_thread(run_node, denied_spec)
    assert {t["name"] for t in denied["tools"]} == {"testcap_echo"}
    assert denied["results"][0]["isError"] is True
    assert text_json(denied["results"][0])["code"] == "denied"
