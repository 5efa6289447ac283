from __future__ import annotations

import pytest
from pydantic import ValidationError

from capabilities.health.schemas import GetServiceArgs, HealthConfig, HealthScope, ListServicesArgs


def test_config_defaults_read_metrics() -> None:
    config = HealthConfig()
    assert config.metrics and config.status_pages == () and config.upstream == "uptime_kuma"


@pytest.mark.parametrize(
    "values",
    [
        {"metrics": False},  # no source at all
        {"status_pages": ["lab", "lab"]},
        {"status_pages": ["../metrics"]},  # goes into a URL path
        {"status_pages": ["a/b"]},
        {"request_timeout_seconds": 0},
        {"metrics_ttl_seconds": 0.5},  # /metrics allows 60 a minute, shared
        {"api_key": "x"},  # secrets never live in this section
    ],
)
def test_config_rejects(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HealthConfig.model_validate(values)


def test_scope_and_args_forbid_unknown_keys_and_bound_values() -> None:
    with pytest.raises(ValidationError):
        HealthScope.model_validate({"show_urls": True})
    with pytest.raises(ValidationError):
        ListServicesArgs.model_validate({"limit": 101})
    with pytest.raises(ValidationError):
        ListServicesArgs.model_validate({"status": "broken"})
    with pytest.raises(ValidationError):
        GetServiceArgs.model_validate({"name": "x" * 201})
    with pytest.raises(ValidationError):
        GetServiceArgs.model_validate({"name": "x", "heartbeats": 0})
    assert HealthScope().show_addresses is False
