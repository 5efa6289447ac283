"""Pins: a server that changes a pinned tool mid-run has it withdrawn until the change is
accepted; ``notifications/tools/list_changed`` is followed; the diff is logged and audited."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from capabilities.mcp_upstream import FrontedServer, PinEvent, load_pins, pins_path

from .support import accept_async, gateway, python_server, settings_for, write_policies

POLICY = """capability: hostile
rules:
  - id: hermes-weather
    who: {clients: [hermes]}
    tools: [hostile_weather, hostile_flip]
"""


def _server(lab: Any) -> FrontedServer:
    for source in lab.runtime.registry.reloadable:
        if isinstance(source, FrontedServer) and source.name == "hostile":
            return source
    raise AssertionError("no fronted server hostile")


async def _withdrawn(server: FrontedServer, tool: str) -> PinEvent:
    """Wait for the event that withdraws ``tool`` (the listener hears every change)."""
    heard: asyncio.Queue[PinEvent] = asyncio.Queue()
    server.listen(heard.put_nowait)
    while True:
        event = await heard.get()
        if event.notes.get("tools", {}).get(tool) == "changed":
            return event


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_changed_description_withdraws_the_tool_until_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"hostile": POLICY})
    config = {
        **python_server("hostile.py"),
        "env": {"HOSTILE_STATE": str(tmp_path / "flipped")},
        "protocol": protocol,
        "relist_seconds": 3600,  # the change must come from the notification
    }
    settings = settings_for(tmp_path, policies, {"hostile": config}, watch_policies=True)
    code, out = await accept_async(settings, "hostile")
    assert code == 0, out
    before = load_pins(pins_path(policies, "hostile"), "hostile").tools["hostile_weather"]

    async with gateway(settings) as lab:
        token = lab.token()
        assert "hostile_weather" in await lab.rest_list(token)
        r = await lab.rest(token, "hostile_weather", {"city": "Lyon"})
        assert r.status_code == 200, r.text

        server = _server(lab)
        assert server.protocol_version == ("2025-11-25" if protocol == "legacy" else "2026-07-28")
        waiting = asyncio.ensure_future(_withdrawn(server, "hostile_weather"))
        r = await lab.rest(token, "hostile_flip", {})
        assert r.status_code == 200, r.text
        with caplog.at_level(logging.WARNING, logger="labgate.mcp_upstream"):
            event = await waiting
        assert "evil.example" in event.notes["diff"]["hostile_weather"]
        assert any("withdrawn" in m for m in caplog.messages)

        # withdrawn on every face; a call says the service is unavailable, and is audited
        assert "hostile_weather" not in await lab.rest_list(token)
        assert "hostile_weather" not in await lab.mcp_list(token)
        assert "hostile_flip" in await lab.rest_list(token)
        r = await lab.rest(token, "hostile_weather", {"city": "Lyon"})
        assert r.status_code == 502 and r.json()["code"] == "upstream_unavailable"
        call = lab.records()[-1]
        assert call["tool"] == "hostile_weather" and call["decision"] == "error"

        # the change is audited with its diff (written in the background: wait for it)
        while True:
            reloads = [
                json.loads(r["notes"]) if isinstance(r["notes"], str) else r["notes"]
                for r in await _records(lab)
            ]
            audited = [n for n in reloads if n.get("source") == "mcp_upstream:hostile"]
            if any(n.get("tools", {}).get("hostile_weather") == "changed" for n in audited):
                break
            await asyncio.sleep(0.05)
        assert any("evil.example" in n.get("diff", {}).get("hostile_weather", "") for n in audited)

        # the operator accepts the change: the tool is back (same arguments: no restart)
        code, out = await accept_async(settings, "hostile")
        assert code == 0 and "~ hostile_weather changed" in out, out
        after = load_pins(pins_path(policies, "hostile"), "hostile").tools["hostile_weather"]
        assert after.sha256 != before.sha256
        while "hostile_weather" not in await lab.rest_list(token):  # the pins file is watched
            await asyncio.sleep(0.05)
        r = await lab.rest(token, "hostile_weather", {"city": "Lyon"})
        assert r.status_code == 200, r.text


async def _records(lab: Any) -> list[dict[str, Any]]:
    journal = lab.runtime.journal
    rows = await journal.read_after(0, 100_000)
    return [r.as_dict() for r in rows if r.as_dict()["kind"] == "policy_reload"]


async def test_a_pin_edited_by_hand_does_not_load(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"hostile": POLICY})
    settings = settings_for(tmp_path, policies, {"hostile": python_server("hostile.py")})
    assert (await accept_async(settings, "hostile"))[0] == 0
    path = pins_path(policies, "hostile")
    doc = json.loads(path.read_text())
    doc["tools"]["hostile_weather"]["description"] = "Weather. Trust me."
    path.write_text(json.dumps(doc))
    from gateway.errors import ConfigError
    from gateway.registry import registry_for

    with pytest.raises(ConfigError, match="sha256 does not match"):
        registry_for(settings)


async def test_a_tool_changed_before_start_is_withdrawn_and_audited(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"hostile": POLICY})
    state = tmp_path / "flipped"
    config = {**python_server("hostile.py"), "env": {"HOSTILE_STATE": str(state)}}
    settings = settings_for(tmp_path, policies, {"hostile": config})
    assert (await accept_async(settings, "hostile"))[0] == 0
    state.write_text("flipped")  # changed while labgate was down
    async with gateway(settings) as lab:
        token = lab.token()
        assert "hostile_weather" not in await lab.rest_list(token)
        assert "hostile_flip" in await lab.rest_list(token)
        ready, checks = await lab.runtime.readiness()
        assert ready  # one server's trouble does not make labgate unready, but it shows
        fronted = next(c for c in checks["tools"] if c.get("source") == "mcp_upstream:hostile")
        assert fronted["connected"] and fronted["withdrawn"] == {"hostile_weather": "changed"}
        while True:  # heard during start-up, audited once the audit log is open
            notes = [
                json.loads(r["notes"]) if isinstance(r["notes"], str) else r["notes"]
                for r in await _records(lab)
            ]
            if any(n.get("tools", {}).get("hostile_weather") == "changed" for n in notes):
                break
            await asyncio.sleep(0.05)
