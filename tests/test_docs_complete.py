"""Docs that tests keep true: every tool in its capability's README, every error code and
every setting section in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import errors
from gateway.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list(load_registry()))
def test_every_tool_is_in_its_capability_readme(name: str) -> None:
    readme = (ROOT / "capabilities" / name / "README.md").read_text()
    missing = [t.name for t in load_registry()[name].tools if t.name not in readme]
    assert missing == []


def test_every_error_code_is_documented() -> None:
    text = (ROOT / "docs" / "envelope.md").read_text()
    codes = {f.code for f in errors.catalog()}
    missing = sorted(c for c in codes if f"`{c}`" not in text)
    assert missing == []


def test_readme_has_exactly_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Set up", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec make test")
