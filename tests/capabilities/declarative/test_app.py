"""A declarative tool through the whole app (REST face): auth, policy, scope, shaping, audit,
the guarded upstream client and the fake lab on a real loopback server."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from capabilities.declarative import EXAMPLES, DeclarativeStore
from gateway.app import create_app
from gateway.auth.dev import DevIssuer
from gateway.registry import Registry
from tests.support.gateway_app import gateway_settings

from .fake_lab import FakeLab
from .support import make_capability_config

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def app_client(
    tmp_path: Path, lab_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    policies = tmp_path / "policies"
    policies.mkdir()
    for name in ("gateway.yaml", "declarative.yaml"):
        shutil.copy(ROOT / "policies" / name, policies / name)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    config = make_capability_config(lab_url, secrets)
    settings = gateway_settings(tmp_path, policies, **config)
    capability = DeclarativeStore(EXAMPLES, set(settings.upstreams)).capability
    app = create_app(settings, registry=Registry([capability]))
    issuer = DevIssuer.from_settings(settings.auth.dev)
    token = issuer.mint("hermes-agent", client_id="hermes", groups=["agents"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c, {"Authorization": f"Bearer {token}"}


async def test_sensor_state_through_the_app(
    app_client: tuple[httpx.AsyncClient, dict[str, str]], fake: FakeLab
) -> None:
    client, auth = app_client
    listed = await client.get("/v1/tools", headers=auth)
    names = {t["name"] for t in listed.json()["tools"]}
    assert "declarative_ha_sensor_state" in names
    r = await client.post(
        "/v1/tools/declarative_ha_sensor_state",
        headers=auth,
        json={"entity_id": "sensor.outdoor_temperature"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"]["state"] == "7.4"
    assert body["provenance"]["upstream"] == "homeassistant"
    assert set(body["untrusted"]) == {"name", "state"}
    assert fake.targets() == ["/ha/api/states/sensor.outdoor_temperature"]


async def test_policy_and_scope_hold_through_the_app(
    app_client: tuple[httpx.AsyncClient, dict[str, str]], fake: FakeLab
) -> None:
    client, auth = app_client
    denied = await client.post(
        "/v1/tools/declarative_ha_sensor_state",
        headers=auth,
        json={"entity_id": "sensor.front_door_lock"},
    )
    assert denied.status_code == 403
    hostile = await client.post(
        "/v1/tools/declarative_proxmox_node_status", headers=auth, json={"node": "../../x"}
    )
    assert hostile.status_code == 422
    events = await client.post(
        "/v1/tools/declarative_frigate_recent_events", headers=auth, json={"limit": 10}
    )
    assert events.status_code == 200, events.text
    items = events.json()["result"]["items"]
    assert {e["camera"] for e in items} == {"front_door", "driveway"}
    assert set(items[0]) == {"id", "camera", "label", "score", "zones", "start_time", "end_time"}
    assert all(t.startswith(("/ha/", "/frigate/")) for t in fake.targets())
    assert "cameras=front_door%2Cdriveway" in fake.targets()[-1]


async def test_wrong_shape_is_upstream_error_through_the_app(
    app_client: tuple[httpx.AsyncClient, dict[str, str]], fake: FakeLab
) -> None:
    client, auth = app_client
    fake.faults = {"gitea": "wrong_shape"}
    r = await client.post(
        "/v1/tools/declarative_gitea_org_repos", headers=auth, json={"org": "homelab"}
    )
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_error"
    assert "not what the tool expects" not in r.text
