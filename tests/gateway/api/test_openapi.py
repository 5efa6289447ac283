"""The committed OpenAPI document is what the app generates, and the app keeps to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.auth.dev import DevIssuer
from gateway.demo import shipped_policies
from gateway.settings import load_settings
from tests.support.live import ROOT, running

COMMITTED = ROOT / "openapi" / "openapi.json"


def generated() -> dict[str, Any]:
    settings = load_settings(None, sample_data=True, auth={"mode": "dev"})
    return create_app(settings).openapi()


def test_committed_openapi_is_current() -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(json.dumps(generated())), "run `make openapi` and commit"


def test_every_tool_route_is_typed() -> None:
    doc = generated()
    tool_paths = [p for p in doc["paths"] if p.startswith("/v1/tools/")]
    assert len(tool_paths) >= 9
    for path in tool_paths:
        op = doc["paths"][path]["post"]
        body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        name = body.rsplit("/", 1)[-1]
        assert doc["components"]["schemas"][name]["additionalProperties"] is False
        assert ok.rsplit("/", 1)[-1] in doc["components"]["schemas"]


def test_every_status_a_tool_can_answer_is_documented() -> None:
    from gateway import errors

    doc = generated()
    rest_statuses = {str(f.status) for f in errors.catalog() if f.code != "insufficient_scope"}
    assert {"404", "500", "504"} <= rest_statuses
    for path, item in doc["paths"].items():
        if path.startswith("/v1/tools/"):
            assert set(item["post"]["responses"]) == {"200"} | rest_statuses, path


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_break(tmp_path: Path) -> None:
    key = tmp_path / "dev-key.pem"
    config = {
        "auth": {"mode": "dev", "dev": {"key_file": str(key)}},
        "sample_data": True,
        "policy_dir": str(shipped_policies()),
        "capabilities": {"health": {"status_pages": ["homelab"]}},
    }
    with running(tmp_path, config) as live:
        issuer = DevIssuer.from_settings(
            load_settings(None, auth={"mode": "dev", "dev": {"key_file": str(key)}}).auth.dev
        )
        token = issuer.mint("fuzz", client_id="hermes", groups=["agents"], ttl=3600)
        headers = {"Authorization": f"Bearer {token}"}
        schema = schemathesis.openapi.from_url(live.base + "/openapi.json")
        checks = [
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ]
        tested = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            tested += 1

            @settings(
                max_examples=40,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            @given(case=operation.as_strategy())
            def run(case: Any) -> None:
                response = case.call(base_url=live.base, headers=headers, timeout=10)
                case.validate_response(response, checks=checks, headers=headers)

            run()
        assert tested >= 10
