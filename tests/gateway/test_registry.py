"""The registry: explicit built-ins, opt-in extras, the operator's declarative directory."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from capabilities.declarative import EXAMPLES
from gateway.capability import Capability, SourceContext, ToolSources
from gateway.errors import ConfigError
from gateway.registry import BUILTIN, load_registry, registry_for
from gateway.settings import load_settings


def test_builtins_and_nothing_else() -> None:
    registry = load_registry()
    builtin = [m.rsplit(".", 1)[-1] for m in BUILTIN]
    # A built-in whose tool source has nothing configured may leave itself out (no fronted
    # MCP server is configured here); the others are there, in order.
    assert list(registry) == [n for n in builtin if n != "mcp_upstream"]
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


class _Source:
    """A tool source as any capability may offer one (the registry knows no names)."""

    def __init__(self, capability: Capability[Any, Any]) -> None:
        self.capability = capability
        self.last_error: str | None = None

    def reload(self) -> None:
        return None

    async def watch(self) -> None:
        return None

    def listen(self, on_reload: Callable[[Any], None]) -> None:
        return None


class _Dir(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directory: str | None = None


def test_any_capability_with_a_tool_source_is_replaced_by_its_source() -> None:
    seen: list[tuple[_Dir | None, tuple[str, ...]]] = []
    replacement: Capability[_Dir, Any] = Capability(
        name="filed", title="From files", description="d", tools=(), config_model=_Dir
    )

    def source(config: _Dir | None, context: SourceContext) -> _Source | None:
        seen.append((config, tuple(context.upstream_names)))
        return _Source(replacement) if config is not None and config.directory else None

    built_in: Capability[_Dir, Any] = Capability(
        name="filed",
        title="Built in",
        description="d",
        tools=(),
        config_model=_Dir,
        tool_source=source,
    )
    plain = load_registry(include=[built_in], sections={"filed": {}}, upstream_names=["u"])
    assert plain["filed"] is built_in and plain.reloadable == []
    filed = load_registry(include=[built_in], sections={"filed": {"directory": "x"}})
    assert filed["filed"] is replacement and len(filed.reloadable) == 1
    assert seen[0] == (_Dir(), ("u",))
    with pytest.raises(ConfigError) as info:
        load_registry(include=[built_in], sections={"filed": {"nope": 1}})
    assert info.value.key == "capabilities.filed.nope"


def test_a_tool_source_may_build_several_capabilities_or_none(tmp_path: Path) -> None:
    contexts: list[SourceContext] = []
    extra: Capability[Any, Any] = Capability(
        name="beside", title="Beside", description="d", tools=()
    )
    other: Capability[Any, Any] = Capability(name="other", title="O", description="d", tools=())

    def source(config: _Dir | None, context: SourceContext) -> ToolSources:
        contexts.append(context)
        if config is None:
            return ToolSources()
        return ToolSources((extra, built_in), (_Source(built_in), _Source(extra)))

    built_in: Capability[_Dir, Any] = Capability(
        name="several",
        title="Several",
        description="d",
        tools=(),
        config_model=_Dir,
        tool_source=source,
    )
    include = [built_in, other]
    unconfigured = load_registry(include=include, policy_dir=tmp_path)
    assert "several" not in unconfigured and "beside" not in unconfigured
    assert unconfigured.reloadable == []
    assert contexts[0].policy_dir == tmp_path
    configured = load_registry(include=include, sections={"several": {}}, upstream_names=["u"])
    names = list(configured)
    # Its own name keeps its place; what it adds comes after every registered capability.
    assert names.index("several") < names.index("other") < names.index("beside")
    assert len(configured.reloadable) == 2
    assert tuple(contexts[1].upstream_names) == ("u",)
    assert contexts[1].policy_dir == Path("policies")


def test_a_tool_source_naming_another_capability_is_refused() -> None:
    stray: Capability[Any, Any] = Capability(name="stray", title="S", description="d", tools=())
    built_in: Capability[_Dir, Any] = Capability(
        name="named",
        title="Named",
        description="d",
        tools=(),
        config_model=_Dir,
        tool_source=lambda config, context: _Source(stray),
    )
    with pytest.raises(ConfigError, match="names another capability"):
        load_registry(include=[built_in])
