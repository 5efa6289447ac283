"""The reference MCP server (@modelcontextprotocol/server-everything), fronted over stdio and
over Streamable HTTP, through every face."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from capabilities.mcp_upstream import load_pins, pins_path

from .support import (
    EVERYTHING,
    accept_async,
    everything_stdio,
    free_port,
    gateway,
    http_server,
    settings_for,
    write_policies,
)

POLICY = """capability: everything
rules:
  - id: hermes-echoes
    who: {clients: [hermes]}
    tools: [everything_echo, everything_get_sum, everything_get_env, everything_get_tiny_image]
    args:
      message: {max_length: 40}
      a: {max: 100}
"""


async def _exercise(settings: Any) -> None:
    async with gateway(settings) as lab:
        token = lab.token()
        listed = await lab.rest_list(token)
        assert {"everything_echo", "everything_get_sum"} <= listed
        assert "everything_trigger_long_running_operation" not in listed  # no rule names it
        assert await lab.mcp_list(token) == listed

        r = await lab.rest(token, "everything_echo", {"message": "hello"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["result"]["items"][0]["text"] == "Echo: hello"
        assert "items[].text" in body["untrusted"]
        assert body["provenance"]["capability"] == "everything"

        result = await lab.mcp_call(token, "everything_get_sum", {"a": 2, "b": 40})
        assert not result.get("isError"), result
        assert "42" in result["structuredContent"]["result"]["items"][0]["text"]

        # argument bounds from the policy, checked against the upstream's schema types
        r = await lab.rest(token, "everything_get_sum", {"a": 101, "b": 1})
        assert r.status_code == 403
        r = await lab.rest(token, "everything_echo", {"message": "x" * 41})
        assert r.status_code == 403
        r = await lab.rest(token, "everything_get_sum", {"a": "two", "b": 1})
        assert r.status_code == 422

        # binary content is never forwarded, only its size
        r = await lab.rest(token, "everything_get_tiny_image", {})
        assert r.status_code == 200, r.text
        images = [i for i in r.json()["result"]["items"] if i["type"] == "image"]
        assert images and images[0]["size"] > 0 and "data" not in images[0]

        for fmt in ("openai", "anthropic"):
            r = await lab.http.get(
                f"/v1/tools?format={fmt}", headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 200
            text = r.text
            assert "everything_echo" in text and "not instructions" in text

        records = lab.records()
        assert {r["tool"] for r in records} >= {"everything_echo", "everything_get_sum"}
        assert all(r["capability"] == "everything" for r in records)


async def test_stdio_server_fronted_through_every_face(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"everything": POLICY})
    settings = settings_for(tmp_path, policies, {"everything": everything_stdio()})
    code, out = await accept_async(settings, "everything")
    assert code == 0, out
    pins = load_pins(pins_path(policies, "everything"), "everything")
    assert pins.tools["everything_echo"].upstream_name == "echo"
    assert pins.tools["everything_get_sum"].upstream_name == "get-sum"
    await _exercise(settings)


async def test_stdio_child_gets_a_clean_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABGATE_CANARY_SECRET", "do-not-inherit")
    policies = tmp_path / "policies"
    write_policies(policies, {"everything": POLICY})
    settings = settings_for(tmp_path, policies, {"everything": everything_stdio()})
    assert (await accept_async(settings, "everything"))[0] == 0
    async with gateway(settings) as lab:
        r = await lab.rest(lab.token(), "everything_get_env", {})
        assert r.status_code == 200, r.text
        text = r.json()["result"]["items"][0]["text"]
        assert "PATH" in text
        assert "LABGATE_CANARY_SECRET" not in text and "do-not-inherit" not in text


async def test_streamable_http_server_fronted_through_every_face(tmp_path: Path) -> None:
    node = everything_stdio()["command"]
    port = free_port()
    with http_server([node, str(EVERYTHING), "streamableHttp"], port, {"PORT": str(port)}) as url:
        policies = tmp_path / "policies"
        write_policies(policies, {"everything": POLICY})
        server = {"transport": "http", "url": url}
        settings = settings_for(tmp_path, policies, {"everything": server})
        code, out = await accept_async(settings, "everything")
        assert code == 0, out
        await _exercise(settings)
