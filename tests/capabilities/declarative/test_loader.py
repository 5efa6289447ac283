"""Loading tool files: the shipped examples load; any invalid file fails the whole set with
``file:line``; only safe YAML is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from capabilities.declarative import EXAMPLES, DeclarativeError, load_declarative

from .test_hostile import LOOSE_TOOL


def test_shipped_examples_load_as_real_tools() -> None:
    cap = load_declarative(EXAMPLES, {"homeassistant", "frigate", "proxmox", "gitea"})
    assert cap.name == "declarative"
    assert sorted(t.name for t in cap.tools) == [
        "declarative_frigate_recent_events",
        "declarative_gitea_org_repos",
        "declarative_ha_sensor_state",
        "declarative_proxmox_node_status",
    ]
    for t in cap.tools:
        assert t.args_model.model_config.get("extra") == "forbid"
        assert t.upstream in {"homeassistant", "frigate", "proxmox", "gitea"}
    frigate = cap.tool("declarative_frigate_recent_events")
    assert frigate is not None and "camera" in frigate.record_model.model_fields
    schema = frigate.output_model.model_json_schema()
    assert (
        schema["$defs"]["DeclarativeFrigateRecentEventsRecord"]["properties"]["sub_label"]["anyOf"][
            0
        ].get("x-untrusted")
        is True
    )


def test_unknown_upstream_is_refused() -> None:
    with pytest.raises(DeclarativeError) as info:
        load_declarative(EXAMPLES, {"homeassistant", "frigate", "proxmox"})
    assert "gitea_org_repos.yaml:1: upstream 'gitea' is not configured" in str(info.value)


BAD = [
    ('request: {path: "/api/v1/orgs/{org}/repos"}', 'request: {path: "/api/../{org}"}', 6),
    ('request: {path: "/api/v1/orgs/{org}/repos"}', 'request: {path: "/x/{other}"}', 2),
    ("pattern: '^.{1,200}$', ", "", 8),
    ("pattern: '^.{1,200}$'", "pattern: '^(unclosed$'", 8),
    ("name: declarative_loose", "name: loose", 2),
    ('projection: "[].{name: name}"', 'projection: "[].{"', 9),
    ("fields: {name: {type: string}}", "fields: {model_x: {type: string}}", 10),
    ("fields: {name: {type: string}}", "fields: {name: {type: string}}\nextra: 1", 11),
    ("upstream: gitea", "upstream: gitea\nupstream: evil", 6),
    ("title: Loose", "title: &a Loose\nnote: *a", 4),
    ("title: Loose", "title: !!python/object:os.system x", 3),
]


@pytest.mark.parametrize("old,new,line", BAD)
def test_invalid_file_is_located(tmp_path: Path, old: str, new: str, line: int) -> None:
    assert old in LOOSE_TOOL
    (tmp_path / "good.yaml").write_text(LOOSE_TOOL.replace("declarative_loose", "declarative_ok"))
    (tmp_path / "bad.yaml").write_text(LOOSE_TOOL.replace(old, new))
    with pytest.raises(DeclarativeError) as info:
        load_declarative(tmp_path, None)
    assert str(info.value).startswith(f"{tmp_path / 'bad.yaml'}:{line}: ")


def test_duplicate_tool_names_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(DeclarativeError, match="no tool files"):
        load_declarative(tmp_path, None)
    (tmp_path / "a.yaml").write_text(LOOSE_TOOL)
    (tmp_path / "b.yaml").write_text(LOOSE_TOOL)
    with pytest.raises(DeclarativeError, match=r"also defined in a\.yaml"):
        load_declarative(tmp_path, None)


def test_oversized_and_non_mapping_files(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("x: " + "y" * 70_000)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(DeclarativeError) as info:
        load_declarative(tmp_path, None)
    assert len(info.value.problems) == 2
