"""The policies shipped in policies/ load, and their decision cases hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy import commands
from gateway.registry import load_registry

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def test_shipped_policies_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert commands.check(POLICIES, load_registry()) == 0
    out = capsys.readouterr().out
    assert "off (no policy file): -" in out  # every built-in capability has its example policy


def test_shipped_decision_cases_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert commands.test(POLICIES, load_registry()) == 0, capsys.readouterr().out
    assert len(list(POLICIES.glob("*.cases.yaml"))) >= 4
