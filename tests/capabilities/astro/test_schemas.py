"""Config and scope validation, and the shipped policy example against the scope model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from capabilities.astro import CAPABILITY
from capabilities.astro.mapping import quote_ident
from capabilities.astro.schemas import AstroConfig, AstroScope, glob_regex

POLICIES = Path(__file__).parents[3] / "policies"


@pytest.mark.parametrize(
    "bad",
    [
        {"wide": {"measurement": 'astro"; DROP'}},
        {"wide": {"target_tag": "a b"}},
        {"nina": {"events_measurement": "ev\\"}},
        {"database": "astro\n"},
        {"timezone": "Mars/Olympus"},
        {"backend": "flux", "layout": "nina"},
        {"gap_minutes": 0},
        {"surprise": 1},
    ],
)
def test_config_rejects(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AstroConfig.model_validate(bad)


def test_quote_ident_refuses_what_validation_would() -> None:
    assert quote_ident("astro_frame") == '"astro_frame"'
    with pytest.raises(ValueError, match="identifier"):
        quote_ident('x" OR 1=1')


def test_globs() -> None:
    rx = glob_regex(["M*", "NGC 7000", "Sh2-1?5"])
    assert rx.fullmatch("M31") and rx.fullmatch("NGC 7000") and rx.fullmatch("Sh2-155")
    assert (
        not rx.fullmatch("NGC 70000") and not rx.fullmatch("xM31") and not rx.fullmatch("NGC.7000")
    )
    with pytest.raises(ValidationError):
        AstroScope(targets=["M31|.*"])
    with pytest.raises(ValidationError):
        AstroScope(targets=["/.*/"])


def test_shipped_policy_scope_and_tools() -> None:
    policy = yaml.safe_load((POLICIES / "astro.yaml").read_text())
    tools = {t.name for t in CAPABILITY.tools}
    for rule in policy["rules"]:
        assert set(rule.get("tools", [])) <= tools
        if "scope" in rule:
            AstroScope.model_validate(rule["scope"])
        for arg in rule.get("args", {}):
            assert any(arg in t.args_model.model_fields for t in CAPABILITY.tools)
    cases = yaml.safe_load((POLICIES / "astro.cases.yaml").read_text())["cases"]
    assert {c["request"]["tool"] for c in cases} <= tools
    for c in cases:
        t = CAPABILITY.tool(c["request"]["tool"])
        assert t is not None
        t.args_model.model_validate(c["request"]["args"])
