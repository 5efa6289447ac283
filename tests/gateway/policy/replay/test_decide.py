"""One recorded call re-decided at its own time, whatever the time of the replay."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from gateway.policy.loader import load_policy_dir
from gateway.policy.replay import parse_call, replay_call
from tests.gateway.policy.replay.served import REGISTRY
from tests.support.gateway_app import FIXTURE_POLICIES


def _record(time: str) -> dict[str, Any]:
    """A call record as the pipeline writes it: hermes lists 10 items, allowed."""
    return {
        "kind": "call", "event_id": time, "time": time, "sub": "sub-hermes",
        "client_id": "hermes", "username": None, "groups": ["agents"], "capability": "testcap",
        "tool": "testcap_list", "arguments": {"page_size": 10, "prefix": None},
        "decision": "allow", "rule_id": "hermes-list", "reasons": ["allowed"], "notes": {},
    }  # fmt: skip


def test_a_time_window_is_applied_at_the_calls_own_time(tmp_path: Path) -> None:
    proposed = tmp_path / "proposed"
    shutil.copytree(FIXTURE_POLICIES, proposed)
    data = yaml.safe_load((proposed / "testcap.yaml").read_text())
    data["rules"][1]["when"] = {"hours": "08:00-18:00", "tz": "Europe/Berlin"}
    (proposed / "testcap.yaml").write_text(yaml.safe_dump(data))
    ps = load_policy_dir(proposed, REGISTRY)
    night, day = (parse_call(_record(t)) for t in ("2025-01-06T03:00:00+00:00",
                                                   "2025-01-06T10:00:00+00:00"))  # fmt: skip
    assert night is not None and day is not None
    assert str(replay_call(night, ps, REGISTRY).change) == "narrow"
    assert replay_call(day, ps, REGISTRY).change is None


def test_records_the_policy_never_decided_are_not_replayed() -> None:
    at = "2025-01-06T10:00:00+00:00"
    denied = {**_record(at), "decision": "deny", "rule_id": None}
    unauthenticated = {**denied, "sub": None, "reasons": ["unauthenticated", "bad-signature"]}
    invalid = {**denied, "reasons": ["invalid-arguments"]}
    failed_before = {**denied, "reasons": []}  # a defect or an audit outage before any decision
    naive_time = _record("2025-01-06T10:00:00")
    for record in (unauthenticated, invalid, failed_before, naive_time):
        assert parse_call(record) is None, record
    assert parse_call({**denied, "reasons": ["default-deny"]}) is not None
