"""The decision table: every ``*.cases.yaml`` under data/, run through ``policy test``'s code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from gateway.policy.cases import CaseResult, run_case_file
from gateway.policy.loader import load_policy_dir

from .demo import registry

DATA = Path(__file__).parent / "data"
CASE_FILES = sorted(DATA.glob("*/*.cases.yaml"))
#: Cases without ``at`` run at this time.
NOW = datetime(2025, 1, 6, 11, 0, tzinfo=UTC)


def _params() -> list[object]:
    params: list[object] = []
    for file in CASE_FILES:
        cases = yaml.safe_load(file.read_text("utf-8"))["cases"]
        for i, case in enumerate(cases):
            ident = f"{file.parent.name}:{i}:{case['note'][:50]}"
            params.append(pytest.param(file, i, id=ident))
    return params


@pytest.fixture(scope="module")
def results() -> dict[Path, list[CaseResult]]:
    out = {}
    for file in CASE_FILES:
        policy_set = load_policy_dir(file.parent, registry())
        out[file] = run_case_file(file, policy_set, registry(), NOW)
    return out


def test_table_covers_every_directory() -> None:
    assert {f.parent.name for f in CASE_FILES} == {"base", "global", "killed", "maintenance"}
    assert len(_params()) >= 30


@pytest.mark.parametrize(("file", "index"), _params())
def test_case(results: dict[Path, list[CaseResult]], file: Path, index: int) -> None:
    result = results[file][index]
    assert result.ok, f"{result.file}:{result.line}: {result.note}: {result.problems}"
