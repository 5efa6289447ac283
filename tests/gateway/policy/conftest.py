"""Fixtures of the policy tests: the demo registry and a writable copy of the base policies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.capability import Capability

from .demo import registry

DATA = Path(__file__).parent / "data"


@pytest.fixture
def capabilities() -> dict[str, Capability]:
    return registry()


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A copy of ``data/base`` that a test may edit."""
    target = tmp_path / "policies"
    shutil.copytree(DATA / "base", target)
    return target
