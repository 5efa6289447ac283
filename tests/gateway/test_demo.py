"""The demo's printed instructions work as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.demo import banner, demo_settings, mint_token


def test_banner_commands_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = demo_settings(8080, 9090, tmp_path / "state")
    token = mint_token(settings, sub="s", client_id="hermes", groups=["agents"], ttl=60)
    text = banner(settings, token)
    assert token in text and "/mcp" in text
    explain = next(line for line in text.splitlines() if "policy explain" in line)
    args = [*shlex.split(explain.strip())[1:], "--dir", str(settings.policy_dir)]
    args += ["--at", "2026-11-25T12:00:00+00:00"]
    assert main(args) == 0
    assert "allowed: yes" in capsys.readouterr().out
