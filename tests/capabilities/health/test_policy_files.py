"""The shipped policy loads with the real loader and its decision cases hold."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from capabilities.health import CAPABILITY, HealthScope
from gateway.errors import PolicyError
from gateway.policy.cases import run_case_file
from gateway.policy.loader import load_policy_dir

POLICIES = Path(__file__).resolve().parents[3] / "policies"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    (tmp_path / "gateway.yaml").write_text("kill_switch: false\n")
    for name in ("health.yaml", "health.cases.yaml"):
        shutil.copy(POLICIES / name, tmp_path / name)
    return tmp_path


def test_shipped_policy_loads_and_hides_addresses_from_hermes(policy_dir: Path) -> None:
    policy_set = load_policy_dir(policy_dir, {"health": CAPABILITY})
    scopes = policy_set.scopes["health"]
    hermes = scopes["hermes-reads-lab-health"]
    assert isinstance(hermes, HealthScope)
    assert hermes.show_addresses is False and hermes.exclude_tags == ["private"]


def test_decision_cases(policy_dir: Path) -> None:
    policy_set = load_policy_dir(policy_dir, {"health": CAPABILITY})
    results = run_case_file(
        policy_dir / "health.cases.yaml", policy_set, {"health": CAPABILITY}, NOW
    )
    assert len(results) >= 9
    failed = [f"{r.line}: {r.note}: {r.problems}" for r in results if not r.ok]
    assert failed == []


def test_a_scope_typo_is_a_load_error(policy_dir: Path) -> None:
    text = (
        (policy_dir / "health.yaml")
        .read_text()
        .replace("show_addresses: false", "show_urls: false")
    )
    (policy_dir / "health.yaml").write_text(text)
    with pytest.raises(PolicyError, match="show_urls"):
        load_policy_dir(policy_dir, {"health": CAPABILITY})
