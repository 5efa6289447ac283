"""The ``labgate`` command's ergonomics: version, help everywhere, one-line errors."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import pytest
import yaml

from gateway.cli import build_parser, main
from gateway.logs import configure_logging


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _parsers(sub)
    return found


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"labgate \d+\.\d+\S*\n", capsys.readouterr().out)


def test_every_option_and_command_has_help() -> None:
    missing = []
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [
                    f"{parser.prog} {a.dest}" for a in action._choices_actions if not a.help
                ]
            elif not action.help:
                missing.append(f"{parser.prog} {action.dest}")
    assert missing == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--claims", "{nope", "--tool", "x"], "labgate: --claims is not valid JSON: '{nope'\n"),
        (["--claims", "[1]", "--tool", "x"], "labgate: --claims must be a JSON object\n"),
        (
            ["--claims", "{}", "--tool", "x", "--args", "3"],
            "labgate: --args must be a JSON object\n",
        ),
        (
            ["--claims", "{}", "--tool", "x", "--at", "noon"],
            "labgate: --at 'noon' is not an ISO time\n",
        ),
    ],
)
def test_policy_explain_bad_input_is_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "explain", *argv]) == 2
    assert capsys.readouterr().err == message


def _config(tmp_path: Path, settings: dict[str, object], policies: dict[str, str]) -> Path:
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\n")
    for name, text in policies.items():
        (policy_dir / f"{name}.yaml").write_text(text)
    doc = {"policy_dir": str(policy_dir), "journal_path": str(tmp_path / "a.db"),
           "auth": {"mode": "dev"}, **settings}  # fmt: skip
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


HEALTH = (Path(__file__).parents[2] / "policies" / "health.yaml").read_text()


def test_serve_with_a_missing_upstream_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, {}, {"health": HEALTH})
    assert main(["--config", str(path), "serve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("labgate: configuration error: capability health uses upstream")


def test_serve_with_an_unreadable_secret_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = {
        "base_url": "http://127.0.0.1:1",
        "auth": {"scheme": "bearer", "secret_file": str(tmp_path / "nope")},
    }
    path = _config(tmp_path, {"upstreams": {"uptime_kuma": upstream}}, {"health": HEALTH})
    assert main(["--config", str(path), "serve"]) == 2
    assert capsys.readouterr().err == (
        "labgate: configuration error: upstreams.uptime_kuma.auth.secret_file: "
        "cannot read secret file (FileNotFoundError)\n"
    )


def test_human_log_lines_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", human=True)
    try:
        logging.getLogger("labgate").info("policy %s in force", "abc", extra={"version": "v1"})
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger("labgate.audit").handlers.clear()
        logging.getLogger("labgate.audit").propagate = True
    line = capsys.readouterr().err
    assert re.fullmatch(r"\d\d:\d\d:\d\d info    labgate  policy abc in force  version=v1\n", line)


def test_json_log_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # pytest's stderr is not a terminal
    try:
        logging.getLogger("labgate").info("x")
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger("labgate.audit").handlers.clear()
        logging.getLogger("labgate.audit").propagate = True
    assert capsys.readouterr().err.startswith('{"ts": ')
