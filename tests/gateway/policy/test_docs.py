"""docs/policy.md documents every reason code and every policy key; shipped files load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.policy import model
from gateway.policy.cases import CaseRequest, CaseWant
from gateway.policy.reasons import Reason
from gateway.policy.yamlsrc import parse_yaml

ROOT = Path(__file__).parents[3]
DOC = (ROOT / "docs" / "policy.md").read_text("utf-8")
MODELS: list[type[BaseModel]] = [
    model.Who,
    model.When,
    model.ArgBound,
    model.ResultRule,
    model.Limits,
    model.Cache,
    model.Approval,
    model.Rule,
    model.CapabilityPolicy,
    model.Maintenance,
    model.GlobalPolicy,
    model.GlobalRule,
    CaseRequest,
    CaseWant,
]


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_is_documented(reason: Reason) -> None:
    assert f"| `{reason}` |" in DOC


def test_reasons_are_stable_kebab_case() -> None:
    values = [str(r) for r in Reason]
    assert len(set(values)) == len(values)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", v) for v in values)


@pytest.mark.parametrize(
    "field",
    sorted({(m.__name__, f) for m in MODELS for f in m.model_fields}),
    ids=lambda p: f"{p[0]}.{p[1]}",
)
def test_every_model_field_is_documented(field: tuple[str, str]) -> None:
    assert f"`{field[1]}`" in DOC


def test_shipped_gateway_yaml_is_valid() -> None:
    path = ROOT / "policies" / "gateway.yaml"
    doc = parse_yaml(path.read_bytes(), str(path))
    policy = model.GlobalPolicy.model_validate(doc.data)
    assert policy.kill_switch is False
    assert policy.maintenance.enabled is False
    assert policy.limits is not None and policy.limits.count > 0
    assert policy.max_result_chars <= 50_000
