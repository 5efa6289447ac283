"""The registry: explicit built-ins, opt-in extras, the operator's declarative directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from capabilities.declarative import EXAMPLES
from gateway.errors import ConfigError
from gateway.registry import BUILTIN, load_registry, registry_for
from gateway.settings import load_settings


def test_builtins_and_nothing_else() -> None:
    registry = load_registry()
    assert list(registry) == [m.rsplit(".", 1)[-1] for m in BUILTIN]
    names = [t.name for _, t in registry.all_tools()]
    assert len(names) == len(set(names))
    assert all(n.startswith(registry.find_tool(n)[0].name + "_") for n in names)  # type: ignore[index]


def test_extra_capability_loads_only_when_named() -> None:
    assert "testcap" not in load_registry()
    assert "testcap" in load_registry(["tests.support.testcap:CAPABILITY"])
    with pytest.raises(ConfigError, match="cannot load capability") as info:
        load_registry(["no.such.module:CAPABILITY"])
    assert info.value.key == "extra_capabilities"


def _settings(directory: Path) -> object:
    upstreams = {
        name: {"base_url": f"http://{name}.lab.invalid"}
        for name in ("homeassistant", "frigate", "proxmox", "gitea")
    }
    return load_settings(
        None,
        auth={"mode": "dev"},
        upstreams=upstreams,
        capabilities={"declarative": {"directory": str(directory)}},
    )


def test_operator_directory_replaces_the_examples(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    one = next(EXAMPLES.glob("*.yaml"))
    shutil.copy(one, tools / one.name)
    registry = registry_for(_settings(tools))  # type: ignore[arg-type]
    declared = [t.name for t in registry["declarative"].tools]
    assert len(declared) == 1
    assert len(registry.reloadable) == 1


def test_invalid_operator_directory_stops_start_naming_the_key(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        registry_for(_settings(tools))  # type: ignore[arg-type]
    assert info.value.key == "capabilities.declarative.directory"
    assert "broken.yaml" in info.value.detail
