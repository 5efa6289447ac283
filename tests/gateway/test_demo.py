"""The demo's printed instructions work as printed."""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path

import pytest
import yaml

from gateway.auth.dev import DevIssuer
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


def test_ports_come_from_flags_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABGATE_LISTEN__PORT", "18181")
    monkeypatch.setenv("LABGATE_OPERATOR_LISTEN__PORT", "19191")
    settings = demo_settings(None, None, tmp_path)
    assert (settings.listen.port, settings.operator_listen.port) == (18181, 19191)
    settings = demo_settings(28181, None, tmp_path)
    assert (settings.listen.port, settings.operator_listen.port) == (28181, 19191)
    monkeypatch.delenv("LABGATE_LISTEN__PORT")
    monkeypatch.delenv("LABGATE_OPERATOR_LISTEN__PORT")
    settings = demo_settings(None, None, tmp_path)
    assert (settings.listen.port, settings.operator_listen.port) == (8080, 9090)
    assert settings.listen.host == settings.operator_listen.host == "127.0.0.1"


def test_a_busy_port_is_one_line_before_any_banner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            ["demo", "--port", str(port), "--operator-port", "0", "--state-dir", str(tmp_path)]
        )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == (
        f"labgate demo: 127.0.0.1:{port} (agent listener) is in use; "
        "choose another port with --port or LABGATE_LISTEN__PORT\n"
    )


def test_banner_prints_the_token_once_quotes_urls_and_has_hermes_yaml(tmp_path: Path) -> None:
    settings = demo_settings(8080, 9090, tmp_path / "state")
    token = mint_token(settings, sub="s", client_id="hermes", groups=["agents"], ttl=60)
    text = banner(settings, token)
    assert text.count(token) == 1
    for line in text.splitlines():
        if line.lstrip().startswith("curl"):
            assert re.search(r"'http://[^' ]+'", line) and " http" not in line, line
    snippet = text.split("Hermes (", 1)[1].split("\n", 1)[1].split("\n\n", 1)[0]
    server = yaml.safe_load(snippet)["mcp_servers"]["labgate"]
    assert server["url"] == "http://127.0.0.1:8080/mcp"
    assert server["headers"]["Authorization"] == "Bearer ${LABGATE_TOKEN}"


async def test_token_works_against_the_demo_state_out_of_the_box(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no gateway.yaml here
    monkeypatch.delenv("LABGATE_CONFIG", raising=False)
    state = tmp_path / "var" / "demo"
    settings = demo_settings(None, None, state)
    mint_token(settings, sub="s", client_id="hermes", groups=["agents"], ttl=60)  # key made
    assert main(["token"]) == 0
    token = capsys.readouterr().out.strip()
    authenticator = DevIssuer.from_settings(settings.auth.dev).authenticator()
    principal = await authenticator.authenticate({"authorization": f"Bearer {token}"}, "127.0.0.1")
    assert principal.client_id == "hermes" and principal.groups == ("agents",)


def test_token_without_any_dev_key_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABGATE_CONFIG", raising=False)
    assert main(["token"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_banner_says_what_denials_tell_the_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = demo_settings(8080, 9090, tmp_path / "state")
    token = mint_token(settings, sub="s", client_id="hermes", groups=["agents"], ttl=60)
    text = " ".join(banner(settings, token).split())
    explain = shlex.split(text.split("policy explain", 1)[1])
    claims = explain[explain.index("--claims") + 1]

    def told(args: str, at: str) -> str:
        capsys.readouterr()
        cmd = ["policy", "explain", "--claims", claims, "--tool", "documents_search"]
        main([*cmd, "--args", args, "--dir", str(settings.policy_dir), "--at", at])
        out = capsys.readouterr().out
        assert "allowed: no" in out
        return out.split("message to the agent: ", 1)[1].splitlines()[0]

    night = told('{"query": "invoice"}', "2026-11-25T02:00:00+01:00")
    bound = told('{"query": "invoice", "page_size": 25}', "2026-11-25T12:00:00+00:00")
    assert night == "not permitted" and bound != night
    assert f"'{night}'" in text and f"'{bound}'" in text
