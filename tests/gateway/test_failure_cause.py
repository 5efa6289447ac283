"""A failure's internal cause reaches the audit record and the log, never the agent."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from capabilities.declarative import EXAMPLES, DeclarativeStore
from gateway.audit.record import canonical_json
from tests.capabilities.declarative.fake_lab import FakeLab, serve
from tests.capabilities.declarative.support import make_capability_config
from tests.support.faces import faces
from tests.support.gateway_app import Gateway

WRONG = "wrong-ha-token-0123456789"


async def test_a_wrong_upstream_password_is_logged_and_audited_not_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    with serve(FakeLab()) as url:
        config = make_capability_config(url, secrets)
        (secrets / "homeassistant.secret").write_text(WRONG)
        capability = DeclarativeStore(EXAMPLES, set(config["upstreams"])).capability
        async with faces(tmp_path, capability, ["declarative.yaml"], **config) as f:
            token = f.token()
            args = {"entity_id": "sensor.outdoor_temperature"}
            rest = await f.rest(token, "declarative_ha_sensor_state", args)
            mcp = await f.mcp_call(token, "declarative_ha_sensor_state", args)
            records = f.records()
    assert rest.status_code == 502 and rest.json()["code"] == "upstream_error"
    assert mcp["isError"] is True
    for answer in (rest.text, canonical_json(mcp)):
        answer = re.sub(r"[0-9a-f]{16,}", "<id>", answer)  # random ids may hold "401"
        assert "401" not in answer and "credentials" not in answer.lower()
    assert len(records) == 2
    for record in records:
        assert record["error_code"] == "upstream_error"
        assert record["upstream"] == "homeassistant"
        assert record["upstream_status"] == 401
        assert record["notes"]["cause"] == "credentials rejected"
    failures = [r.getMessage() for r in caplog.records if r.name == "labgate.pipeline"]
    assert len(failures) == 2
    assert all("credentials rejected" in m and "answered 401" in m for m in failures)
    assert "answered 401: credentials rejected" in caplog.text  # the transport's own line
    assert WRONG not in caplog.text and WRONG not in canonical_json(records)


async def test_a_capabilitys_notes_are_kept_when_it_fails(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    scope = await gw.client.post(
        "/v1/tools/testcap_fail", json={"kind": "scope"}, headers=gw.auth()
    )
    crash = await gw.client.post(
        "/v1/tools/testcap_fail", json={"kind": "crash"}, headers=gw.auth()
    )
    assert scope.status_code == 403 and crash.status_code == 500
    assert "prefix" not in scope.text and "scope_violation" not in scope.text
    assert "RuntimeError" not in crash.text and "hunter2" not in crash.text
    denied, crashed = await gw.journal_records()
    assert denied["notes"] == {
        "scope_violation": "prefix-not-allowed",
        "cause": "prefix b is out of scope",
    }
    assert denied["error_code"] == "denied" and denied["decision"] == "error"
    assert crashed["notes"] == {"cause": "testcap_fail: RuntimeError"}
    lines = [r.getMessage() for r in caplog.records if r.name == "labgate.pipeline"]
    assert any("prefix b is out of scope" in m and "scope_violation" in m for m in lines)
    assert any("RuntimeError" in m for m in lines)
