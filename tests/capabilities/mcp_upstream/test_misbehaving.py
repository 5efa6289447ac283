"""A server that hangs, answers too much or breaks the protocol fails its calls with the typed
upstream errors, and never affects another fronted server."""

from __future__ import annotations

import asyncio
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from .support import (
    SERVERS,
    accept_async,
    free_port,
    gateway,
    http_server,
    python_server,
    settings_for,
    write_policies,
)

POLICIES = {
    "bad": """capability: bad
rules:
  - id: hermes-bad
    who: {clients: [hermes]}
    tools: [bad_hang, bad_huge, bad_garbage, bad_ok]
""",
    "good": """capability: good
rules:
  - id: hermes-good
    who: {clients: [hermes]}
    tools: [good_weather]
""",
}


async def test_misbehaving_server_fails_typed_and_alone(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, POLICIES)
    bad = {**python_server("misbehaving.py"), "call_timeout": 1, "max_result_bytes": 65536}
    servers = {"bad": bad, "good": python_server("hostile.py")}
    settings = settings_for(tmp_path, policies, servers)
    for name in servers:
        code, out = await accept_async(settings, name)
        assert code == 0, out

    async with gateway(settings) as lab:
        token = lab.token()
        hanging = asyncio.ensure_future(lab.rest(token, "bad_hang", {}))
        # while one server hangs, the other answers
        r = await lab.rest(token, "good_weather", {"city": "Lyon"})
        assert r.status_code == 200, r.text
        r = await hanging
        assert r.status_code == 504 and r.json()["code"] == "upstream_timeout"

        r = await lab.rest(token, "bad_huge", {"megabytes": 1})
        assert r.status_code == 502 and r.json()["code"] == "upstream_error"
        assert "x" * 100 not in r.text

        r = await lab.rest(token, "bad_garbage", {})
        assert r.status_code == 502 and r.json()["code"] == "upstream_error", r.text
        assert "not an object" not in r.text

        r = await lab.rest(token, "good_weather", {"city": "Lyon"})
        assert r.status_code == 200, r.text
        records = lab.records()
        assert [rec["error_code"] for rec in records if rec["tool"] == "bad_huge"] == [
            "upstream_error"
        ]


async def test_server_down_is_upstream_unavailable(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"good": POLICIES["good"]})
    settings = settings_for(tmp_path, policies, {"good": python_server("hostile.py")})
    assert (await accept_async(settings, "good"))[0] == 0
    # the same pins, now served by a command that does not exist: the server is down
    down = {"transport": "stdio", "command": str(tmp_path / "no-such-server"), "connect_timeout": 1}
    settings = settings_for(tmp_path, policies, {"good": down})
    async with gateway(settings) as lab:
        token = lab.token()
        assert "good_weather" not in await lab.rest_list(token)
        r = await lab.rest(token, "good_weather", {"city": "Lyon"})
        assert r.status_code == 502 and r.json()["code"] == "upstream_unavailable"


@pytest.mark.parametrize("protocol", ["legacy", "2026-07-28"])
async def test_oversized_http_answer_is_cut_and_the_session_survives(
    tmp_path: Path, protocol: str
) -> None:
    port = free_port()
    argv = [sys.executable, str(SERVERS / "hostile.py"), "http", str(port)]
    with http_server(argv, port) as url:
        policies = tmp_path / "policies"
        write_policies(
            policies,
            {
                "hostile": "capability: hostile\nrules:\n  - id: r\n    who: {clients: [hermes]}\n"
                "    tools: [hostile_page]\n"
            },
        )
        config = {"transport": "http", "url": url, "protocol": protocol, "max_result_bytes": 65536}
        settings = settings_for(tmp_path, policies, {"hostile": config})
        assert (await accept_async(settings, "hostile"))[0] == 0
        async with gateway(settings) as lab:
            token = lab.token()
            r = await lab.rest(token, "hostile_page", {"count": 50_000})
            assert r.status_code == 502 and r.json()["code"] == "upstream_error", r.text
            assert "answer cut" in lab.records()[-1]["notes"]["cause"]
            r = await lab.rest(token, "hostile_page", {"count": 2})
            assert r.status_code == 200, r.text


async def test_a_restarted_server_is_reconnected(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, str(SERVERS / "hostile.py"), "http", str(port)]
    policies = tmp_path / "policies"
    write_policies(policies, {"good": POLICIES["good"]})
    url = f"http://127.0.0.1:{port}/mcp"
    config = {"transport": "http", "url": url, "relist_seconds": 1, "connect_timeout": 2}
    settings = settings_for(tmp_path, policies, {"good": config})
    with ExitStack() as first:
        first.enter_context(http_server(argv, port))
        assert (await accept_async(settings, "good"))[0] == 0
        async with gateway(settings) as lab:
            token = lab.token()
            r = await lab.rest(token, "good_weather", {"city": "Lyon"})
            assert r.status_code == 200, r.text

            first.close()  # the server goes away
            r = await lab.rest(token, "good_weather", {"city": "Lyon"})
            assert r.status_code == 502 and r.json()["code"] == "upstream_unavailable", r.text

            with http_server(argv, port):  # and comes back: labgate reconnects on its own
                while "good_weather" not in await lab.rest_list(token):
                    await asyncio.sleep(0.1)
                r = await lab.rest(token, "good_weather", {"city": "Lyon"})
                assert r.status_code == 200, r.text
