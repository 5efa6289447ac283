"""Reload: all or nothing, last good set kept; behaviour may change, the interface may not."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from capabilities.declarative import EXAMPLES, DeclarativeStore, StoreReload

from .support import call, make_ctx

GITEA = "declarative_gitea_org_repos"


@pytest.fixture
def tool_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tools"
    shutil.copytree(EXAMPLES, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


async def test_reload_applies_new_caps(
    tool_dir: Path, clients: dict[str, httpx.AsyncClient]
) -> None:
    events: list[StoreReload] = []
    store = DeclarativeStore(tool_dir, None, on_reload=events.append)
    before = await call(store, GITEA, {"org": "homelab"}, make_ctx(clients))
    assert len(before["items"]) == 4
    _edit(tool_dir / "gitea_org_repos.yaml", "max_items: 50", "max_items: 2")
    event = store.reload()
    assert event.ok and event.changed == (GITEA,) and events == [event]
    ctx = make_ctx(clients)
    after = await call(store, GITEA, {"org": "homelab"}, ctx)
    assert len(after["items"]) == 2 and after["partial"] is True and ctx.partial is True


@pytest.mark.parametrize(
    "old,new",
    [
        ("path: /api/v1/orgs/{org}/repos", "path: /api/v1/orgs/{org}/../repos"),
        ("path: /api/v1/orgs/{org}/repos", "path: /api/v1/orgs/{org}/repos?x=1"),
        ("projection: >-", "projection: '[].{'\n  old_projection: >-"),
        ("    pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'\n", ""),
        ("upstream: gitea", "upstream: gitea\nupstream: other"),
        ("max_items: 50", "max_items: [unclosed"),
    ],
)
async def test_invalid_edit_keeps_the_last_good_set(
    tool_dir: Path, clients: dict[str, httpx.AsyncClient], old: str, new: str
) -> None:
    store = DeclarativeStore(tool_dir, None)
    _edit(tool_dir / "gitea_org_repos.yaml", old, new)
    event = store.reload()
    assert not event.ok and event.error is not None
    assert event.error.startswith(str(tool_dir / "gitea_org_repos.yaml") + ":")
    assert store.last_error == event.error and store.reload_failures == 1
    out = await call(store, GITEA, {"org": "homelab"}, make_ctx(clients))
    assert len(out["items"]) == 4  # the old definition still answers


@pytest.mark.parametrize(
    "old,new",
    [
        ("title: Gitea organisation repositories", "title: Gitea repositories"),
        ("  html_url: {type: string}\n", ""),
        (
            "    maximum: 50\n    description: Page number",
            "    maximum: 9\n    description: Page number",
        ),
    ],
)
def test_interface_changes_take_a_restart(tool_dir: Path, old: str, new: str) -> None:
    store = DeclarativeStore(tool_dir, None)
    _edit(tool_dir / "gitea_org_repos.yaml", old, new)
    event = store.reload()
    assert not event.ok and "restart" in (event.error or "")


def test_adding_or_removing_a_tool_takes_a_restart(tool_dir: Path) -> None:
    store = DeclarativeStore(tool_dir, None)
    shutil.copy(tool_dir / "gitea_org_repos.yaml", tool_dir / "gitea_copy.yaml")
    _edit(
        tool_dir / "gitea_copy.yaml",
        "name: declarative_gitea_org_repos",
        "name: declarative_gitea_copy",
    )
    assert not store.reload().ok
    (tool_dir / "gitea_copy.yaml").unlink()
    (tool_dir / "ha_sensor_state.yaml").unlink()
    event = store.reload()
    assert not event.ok and "removed ['declarative_ha_sensor_state']" in (event.error or "")
    assert store.definition("declarative_ha_sensor_state").upstream == "homeassistant"
