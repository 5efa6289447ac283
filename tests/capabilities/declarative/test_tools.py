"""The shipped example tools against the fake lab over real HTTP: results, projection, caps,
scope and error mapping."""

from __future__ import annotations

import httpx
import pytest

from capabilities.declarative import DeclarativeScope, DeclarativeStore
from gateway.errors import Denied, InvalidArguments, NotFound, UpstreamError

from .fake_lab import FakeLab
from .support import call, make_ctx, plain_clients

HA = "declarative_ha_sensor_state"
FRIGATE = "declarative_frigate_recent_events"
PVE = "declarative_proxmox_node_status"
GITEA = "declarative_gitea_org_repos"


async def test_home_assistant_state_is_projected(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient], fake: FakeLab
) -> None:
    out = await call(store, HA, {"entity_id": "sensor.outdoor_temperature"}, make_ctx(clients))
    assert out == {
        "entity_id": "sensor.outdoor_temperature",
        "state": "7.4",
        "unit": "°C",
        "name": "Outdoor temperature",
        "device_class": "temperature",
        "last_changed": "2025-01-14T21:52:03.118524+00:00",
        "last_updated": "2025-01-14T21:52:03.118524+00:00",
    }
    assert fake.targets() == ["/ha/api/states/sensor.outdoor_temperature"]


async def test_unknown_entity_is_not_found(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient]
) -> None:
    with pytest.raises(NotFound):
        await call(store, HA, {"entity_id": "sensor.nope"}, make_ctx(clients))


async def test_proxmox_status_types_and_unknown_node(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient]
) -> None:
    out = await call(store, PVE, {"node": "pve2"}, make_ctx(clients))
    assert out["uptime_seconds"] == 402118
    assert out["load_1m"] == 2.11 and out["cpu_count"] == 12
    assert "flags" not in out and "swap" not in out  # only the declared fields
    with pytest.raises(UpstreamError) as info:  # Proxmox answers 500 for an unknown node
        await call(store, PVE, {"node": "pve9"}, make_ctx(clients))
    assert "hostname" not in info.value.detail


async def test_gitea_repos_query_and_pages(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient], fake: FakeLab
) -> None:
    out = await call(store, GITEA, {"org": "homelab"}, make_ctx(clients))
    assert [r["name"] for r in out["items"]] == [
        "infra",
        "labgate-policies",
        "astro-scripts",
        "old-dotfiles",
    ]
    assert set(out["items"][0]) == {
        "name",
        "full_name",
        "description",
        "language",
        "default_branch",
        "private",
        "archived",
        "fork",
        "mirror",
        "stars",
        "open_issues",
        "updated_at",
        "html_url",
    }
    assert out["partial"] is False
    assert fake.targets()[-1] == "/gitea/api/v1/orgs/homelab/repos?page=1&limit=20"
    second = await call(store, GITEA, {"org": "homelab", "page": 2}, make_ctx(clients))
    assert second["items"] == []
    with pytest.raises(NotFound):
        await call(store, GITEA, {"org": "family"}, make_ctx(clients))


async def test_frigate_scope_is_pushed_down_and_checked(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient], fake: FakeLab
) -> None:
    scope = DeclarativeScope(match={"camera": ["front_door", "driveway"]})
    ctx = make_ctx(clients, scope)
    out = await call(store, FRIGATE, {}, ctx)
    assert {e["camera"] for e in out["items"]} == {"front_door", "driveway"}
    assert "cameras=front_door%2Cdriveway" in fake.targets()[-1]
    assert out["items"][0]["zones"] == "porch" and out["items"][0]["sub_label"] == "postman"
    with pytest.raises(Denied):
        await call(store, FRIGATE, {"camera": "garden"}, make_ctx(clients, scope))
    assert len(fake.targets()) == 1  # refused before any request


async def test_records_outside_the_scope_are_dropped(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient], fake: FakeLab
) -> None:
    # the upstream ignores the filter (serves every camera): the record check still holds
    fake.books["frigate"].entries = [e for e in fake.books["frigate"].entries if not e.query]
    scope = DeclarativeScope(match={"camera": ["garden"]})
    ctx = make_ctx(clients, scope)
    out = await call(store, FRIGATE, {}, ctx)
    assert [e["camera"] for e in out["items"]] == ["garden", "garden"]
    assert ctx.notes == {"scope_dropped": 4}


async def test_object_outside_the_scope_is_not_found(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient]
) -> None:
    scope = DeclarativeScope(match={"device_class": ["humidity"]})
    with pytest.raises(NotFound):
        await call(store, HA, {"entity_id": "sensor.outdoor_temperature"}, make_ctx(clients, scope))


@pytest.mark.parametrize(
    "tool,args",
    [
        (HA, {"entity_id": "sensor.outdoor_temperature"}),
        (FRIGATE, {}),
        (PVE, {"node": "pve1"}),
        (GITEA, {"org": "homelab"}),
    ],
)
@pytest.mark.parametrize("fault", ["wrong_shape", "html"])
async def test_wrong_shape_is_an_upstream_error(
    store: DeclarativeStore,
    clients: dict[str, httpx.AsyncClient],
    fake: FakeLab,
    tool: str,
    args: dict[str, object],
    fault: str,
) -> None:
    fake.faults = dict.fromkeys(("homeassistant", "frigate", "proxmox", "gitea"), fault)
    with pytest.raises(UpstreamError) as info:
        await call(store, tool, args, make_ctx(clients))
    assert info.value.detail == UpstreamError.default_message


async def test_size_cap_of_the_tool(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient], fake: FakeLab
) -> None:
    fake.faults = {"proxmox": "huge"}
    with pytest.raises(UpstreamError) as info:
        await call(store, PVE, {"node": "pve1"}, make_ctx(clients))
    assert "cap" in (info.value.internal or "")


async def test_rejected_credentials(store: DeclarativeStore, lab_url: str) -> None:
    clients = plain_clients(lab_url, auth=False)
    try:
        with pytest.raises(UpstreamError) as info:
            await call(store, HA, {"entity_id": "sensor.outdoor_temperature"}, make_ctx(clients))
    finally:
        for client in clients.values():
            await client.aclose()
    assert info.value.internal == "credentials rejected"


async def test_upstream_refusing_arguments_maps_to_invalid_arguments(
    store: DeclarativeStore, clients: dict[str, httpx.AsyncClient], fake: FakeLab
) -> None:
    from capabilities.declarative.sample import SampleReply

    body = (
        b'{"errors":{"node":"invalid format - value does not look like a valid node name\\n"},'
        b'"data":null}'
    )
    fake.books["proxmox"].fallbacks = [
        ("/", SampleReply(400, {"content-type": "application/json"}, body))
    ]
    with pytest.raises(InvalidArguments) as info:
        await call(store, PVE, {"node": "pve9"}, make_ctx(clients))
    assert "invalid format" not in info.value.detail
