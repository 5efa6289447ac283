"""docs/upstreams.md stays true: every setting and metric is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.telemetry import METRIC_NAMES, TelemetrySettings
from gateway.upstream import AuthSettings, BreakerSettings, UpstreamSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "upstreams.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_every_metric_is_documented(doc: str, name: str) -> None:
    assert f"`{name}`" in doc


@pytest.mark.parametrize(
    "model", [UpstreamSettings, AuthSettings, BreakerSettings, TelemetrySettings]
)
def test_every_setting_is_documented(doc: str, model: type[BaseModel]) -> None:
    # Generated tables name nested keys by their path (`auth.scheme`).
    missing = [k for k in model.model_fields if not re.search(rf"`(?:[\w<>]+\.)*{k}`", doc)]
    assert missing == []


@pytest.mark.parametrize(
    "code", ["upstream_unavailable", "upstream_timeout", "upstream_error", "redirect refused"]
)
def test_error_mapping_is_documented(doc: str, code: str) -> None:
    assert code in doc
