"""The policies shipped in policies/ load, and their decision cases hold."""

from __future__ import annotations

from pathlib import Path

from gateway.policy import commands
from gateway.registry import load_registry

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def test_shipped_policies_check() -> None:
    result = commands.check(POLICIES, load_registry())
    assert result.exit_code == 0, result.text
    assert (
        "off (no policy file): -" in result.text
    )  # every built-in capability has its example policy


def test_shipped_decision_cases_pass() -> None:
    result = commands.test(POLICIES, load_registry())
    assert result.exit_code == 0, result.text
    assert len(list(POLICIES.glob("*.cases.yaml"))) >= 4
