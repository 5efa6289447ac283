"""The shipped policy example loads against the shipped tools and its decision cases hold;
sample mode (the demo) serves every example tool with no network."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from capabilities.declarative import CAPABILITY, EXAMPLES, DeclarativeConfig, DeclarativeStore
from gateway.capability import SampleClients, SetupContext
from gateway.errors import ConfigError
from gateway.policy.cases import run_case_file
from gateway.policy.loader import load_policy_dir
from gateway.registry import Registry

from .support import call, make_ctx

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def test_shipped_policy_and_cases(tmp_path: Path) -> None:
    for name in ("gateway.yaml", "declarative.yaml"):
        shutil.copy(POLICIES / name, tmp_path / name)
    registry = Registry([CAPABILITY])
    policy_set = load_policy_dir(tmp_path, registry)
    assert "declarative" in policy_set.capabilities
    results = run_case_file(
        POLICIES / "declarative.cases.yaml",
        policy_set,
        registry,
        datetime(2025, 1, 6, 11, tzinfo=UTC),
    )
    assert len(results) >= 10
    assert all(r.ok for r in results), [r.problems for r in results if not r.ok]


def _refuse(name: str) -> httpx.AsyncClient:
    raise AssertionError(f"sample mode asked for upstream {name}")


@pytest.mark.parametrize(
    "tool,args",
    [
        ("declarative_ha_sensor_state", {"entity_id": "sensor.observatory_sky_quality"}),
        ("declarative_frigate_recent_events", {"camera": "garden"}),
        ("declarative_proxmox_node_status", {"node": "pve1"}),
        ("declarative_gitea_org_repos", {"org": "homelab"}),
    ],
)
async def test_sample_mode_serves_every_example(tool: str, args: dict[str, object]) -> None:
    store = DeclarativeStore(EXAMPLES, None)
    samples = SampleClients()  # what the gateway hands over, and closes
    res = await store.setup(
        SetupContext(config=DeclarativeConfig(), sample=True, http=_refuse, sample_http=samples)
    )
    try:
        ctx = make_ctx({})
        ctx.clients = res.clients
        out = await call(store, tool, args, ctx)
    finally:
        await samples.aclose()
    assert out.get("items", [out])  # something came back
    if tool == "declarative_frigate_recent_events":
        assert {e["camera"] for e in out["items"]} == {"garden"}


async def test_setup_refuses_a_directory_it_was_not_built_from(tmp_path: Path) -> None:
    store = DeclarativeStore(EXAMPLES, None)
    with pytest.raises(ConfigError):
        await store.setup(
            SetupContext(config=DeclarativeConfig(directory=tmp_path), sample=False, http=_refuse)
        )
