"""``labgate mcp-upstream diff|accept`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gateway.cli import main

from .support import python_server, write_policies


def test_diff_accept_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {})
    config = tmp_path / "gateway.yaml"
    servers = {"hostile": python_server("hostile.py")}
    config.write_text(
        yaml.safe_dump(
            {"policy_dir": str(policies), "capabilities": {"mcp_upstream": {"servers": servers}}}
        )
    )
    base = ["--config", str(config)]
    assert main(["mcp-upstream", "diff", "hostile", *base]) == 1  # nothing accepted yet
    assert "+ hostile_weather (upstream 'weather')" in capsys.readouterr().out
    assert not (policies / "hostile.pins.json").exists()

    assert main(["mcp-upstream", "accept", "hostile", *base]) == 0
    out = capsys.readouterr().out
    assert "pinned 6 tool(s) of hostile" in out
    pins = json.loads((policies / "hostile.pins.json").read_text())
    assert pins["server"] == "hostile" and "hostile_weather" in pins["tools"]

    assert main(["mcp-upstream", "diff", "hostile", *base]) == 0
    assert "0 change(s)" in capsys.readouterr().out
    assert main(["mcp-upstream", "accept", "nosuch", *base]) == 2
