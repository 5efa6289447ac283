"""Whatever is written into a policy file, the loader raises PolicyError and nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import PolicyError
from gateway.policy.loader import load_policy_dir

from .demo import registry

KEYS = st.sampled_from(
    [
        "capability",
        "rules",
        "id",
        "effect",
        "who",
        "tools",
        "when",
        "args",
        "scope",
        "result",
        "limits",
        "cache",
        "redact",
        "clients",
        "hours",
        "tz",
        "days",
        "min",
        "max",
        "max_length",
        "one_of",
        "pattern",
        "fields",
        "truncate",
        "max_items",
        "rate",
        "burst",
        "ttl_seconds",
        "allowed_prefixes",
        "count",
        "text",
        "page_size",
        "demo_echo",
        "kill_switch",
    ]
) | st.text(max_size=8)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "demo",
            "demo_echo",
            "*",
            "allow",
            "deny",
            "60/hour",
            "09:00-17:00",
            "Europe/Paris",
            "[a-",
            "mon",
            "r1",
        ]
    )
)
STRUCTURES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load(text: str | bytes, name: str = "demo.yaml") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        (path / "gateway.yaml").write_text("kill_switch: false\n", "utf-8")
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        (path / name).write_bytes(raw)
        try:
            load_policy_dir(path, registry())
        except PolicyError as exc:
            assert exc.message
            assert exc.file is None or exc.file.startswith(tmp)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_gives_only_policy_error(text: str) -> None:
    _load(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_give_only_policy_error(raw: bytes) -> None:
    _load(raw)


@SETTINGS
@given(STRUCTURES)
def test_any_yaml_structure_gives_only_policy_error(data: Any) -> None:
    _load(yaml.safe_dump(data))


@SETTINGS
@given(st.dictionaries(KEYS, STRUCTURES, max_size=6))
def test_any_global_file_gives_only_policy_error(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        (path / "gateway.yaml").write_text(yaml.safe_dump(data), "utf-8")
        try:
            load_policy_dir(path, registry())
        except PolicyError as exc:
            assert exc.message


@SETTINGS
@given(st.lists(st.dictionaries(KEYS, STRUCTURES, max_size=6), max_size=3))
def test_any_rules_give_only_policy_error(rules: list[dict[str, Any]]) -> None:
    _load(yaml.safe_dump({"capability": "demo", "rules": rules}))
