"""``labgate policy check`` knows the fronted tools from the pins, without the upstream; the
policy's bounds are checked against the upstream's JSON Schema types."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from capabilities.mcp_upstream import Pin, PinSet, pins_path, write_pins
from gateway.cli import main
from gateway.policy import commands
from gateway.registry import registry_for
from gateway.settings import Settings

from .support import settings_for, write_policies

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 80},
        "days": {"type": "integer", "minimum": 1},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "filter": {"type": "object"},
    },
    "required": ["city"],
}


def _pins(policies: Path) -> None:
    definition = {
        "name": "getForecast",
        "title": "Forecast",
        "description": "The forecast.",
        "input_schema": SCHEMA,
        "output_schema": None,
    }
    pin = Pin.from_definition("weather_get_forecast", definition, {"readOnlyHint": True})
    write_pins(pins_path(policies, "weather"), PinSet("weather", {pin.tool: pin}))


def _settings(tmp_path: Path, policies: Path) -> Settings:
    # an upstream nobody listens on: the check must not need it
    server = {"transport": "http", "url": "http://127.0.0.1:9/mcp", "connect_timeout": 0.5}
    return settings_for(tmp_path, policies, {"weather": server})


def _policy(args: str) -> str:
    return (
        "capability: weather\nrules:\n  - id: hermes-forecast\n    who: {clients: [hermes]}\n"
        f"    tools: [weather_get_forecast]\n    args: {args}\n"
    )


def test_check_knows_fronted_tools_from_pins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"weather": _policy("{days: {max: 7}, city: {max_length: 40}}")})
    _pins(policies)
    settings = _settings(tmp_path, policies)
    result = commands.check(policies, registry_for(settings))
    assert result.exit_code == 0
    assert "weather" in result.text


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("{city: {max: 3}}", "min/max apply to numeric arguments only"),
        ("{days: {pattern: 'x'}}", "pattern applies to text arguments only"),
        ("{units: {one_of: [3]}}", "does not fit the argument's type"),
        ("{filter: {max_length: 3}}", "max_length applies to text or list arguments only"),
        ("{nope: {max: 3}}", "unknown argument nope"),
    ],
)
def test_bounds_follow_the_upstream_schema_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: str, problem: str
) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"weather": _policy(args)})
    _pins(policies)
    settings = _settings(tmp_path, policies)
    result = commands.check(policies, registry_for(settings))
    assert result.exit_code == 1
    assert problem in result.text


def test_cli_check_reads_the_pins_beside_the_checked_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = tmp_path / "deployed"
    write_policies(deployed, {})
    proposed = tmp_path / "proposed"
    write_policies(proposed, {"weather": _policy("{days: {max: 7}}")})
    _pins(proposed)
    config = tmp_path / "gateway.yaml"
    server = {"transport": "http", "url": "http://127.0.0.1:9/mcp"}
    config.write_text(
        yaml.safe_dump(
            {
                "policy_dir": str(deployed),
                "capabilities": {"mcp_upstream": {"servers": {"weather": server}}},
            }
        )
    )
    assert main(["policy", "check", str(proposed), "--config", str(config)]) == 0
    assert "weather" in capsys.readouterr().out
    # the same policy beside no pins: the tool does not exist, the rule naming it is an error
    (deployed / "weather.yaml").write_text((proposed / "weather.yaml").read_text())
    assert main(["policy", "check", str(deployed), "--config", str(config)]) == 1
    assert "unknown tool weather_get_forecast" in capsys.readouterr().out


def test_unknown_tool_without_pins_is_a_load_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {"weather": _policy("{days: {max: 7}}")})
    settings = _settings(tmp_path, policies)
    result = commands.check(policies, registry_for(settings))
    assert result.exit_code == 1
    assert "unknown tool weather_get_forecast" in result.text


def test_a_server_named_like_a_capability_is_refused(tmp_path: Path) -> None:
    from gateway.errors import ConfigError

    server = {"transport": "http", "url": "http://127.0.0.1:9/mcp"}
    settings = settings_for(tmp_path, tmp_path, {"health": server})
    with pytest.raises(ConfigError, match="registered twice"):
        registry_for(settings)
