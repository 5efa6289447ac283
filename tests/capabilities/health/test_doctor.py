"""``labgate doctor`` against the fake Uptime Kuma: each failure told apart, scope globs checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.capability import Finding
from gateway.doctor.report import EXIT_FAILED, EXIT_OK, Report
from gateway.doctor.runner import run_doctor
from tests.gateway.doctor.deployment import deployment
from tests.support.net import free_port

from .fake_kuma import FakeKuma
from .support import make_capability_config

POLICY = """\
capability: health
rules:
  - id: lab
    who: {clients: [hermes], groups: [agents]}
    tools: [health_list_services, health_get_service, health_summary]
    scope: {names: ["Web*", "No Such Monitor*"], exclude_names: ["*vault*"]}
"""


def _upstream(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.subject.startswith(("upstream", "capability", "rule"))]


async def _doctor(
    tmp_path: Path, url: str, policy: str = POLICY, claims: dict[str, Any] | None = None
) -> Report:
    settings = make_capability_config(url, tmp_path / "kuma_key")
    return await run_doctor(deployment(tmp_path, settings, {"health": policy}), claims=claims)


async def test_reachable_with_key_and_globs_checked(
    tmp_path: Path, kuma_url: str, fake: FakeKuma
) -> None:
    report = await _doctor(tmp_path, kuma_url)
    found = {(f.subject, f.code, f.status) for f in _upstream(report.findings())}
    assert ("upstream uptime_kuma (metrics)", "ok", "ok") in found
    assert ("upstream uptime_kuma (page:lab)", "ok", "ok") in found
    assert ("rule lab: names", "glob-empty", "warn") in found  # 'No Such Monitor*'
    assert ("rule lab: exclude_names", "glob-empty", "warn") in found
    assert not [f for f in report.findings() if f.status == "fail"]
    assert report.exit_code() == EXIT_OK
    assert report.exit_code(strict=True) == EXIT_FAILED


async def test_wrong_api_key_is_credentials_rejected(tmp_path: Path, kuma_url: str) -> None:
    settings = make_capability_config(kuma_url, tmp_path / "kuma_key")
    (tmp_path / "kuma_key").write_text("uk9_not-the-key")
    report = await run_doctor(deployment(tmp_path, settings, {"health": POLICY}))
    codes = {(f.subject, f.code) for f in report.findings() if f.status == "fail"}
    assert codes == {("upstream uptime_kuma (metrics)", "credentials-rejected")}
    assert report.exit_code() == EXIT_FAILED
    assert "uk9_not-the-key" not in report.as_text() + report.as_json()


async def test_nothing_listening_is_unreachable(tmp_path: Path) -> None:
    report = await _doctor(tmp_path, f"http://127.0.0.1:{free_port()}")
    failed = [f for f in report.findings() if f.status == "fail"]
    assert failed and {f.code for f in failed} == {"unreachable"}


@pytest.mark.parametrize("fault", ["html", "garbage", "500"])
async def test_not_uptime_kuma_is_unexpected_shape(
    tmp_path: Path, kuma_url: str, fake: FakeKuma, fault: str
) -> None:
    fake.faults["/metrics"] = fault
    report = await _doctor(tmp_path, kuma_url)
    failed = {(f.subject, f.code) for f in report.findings() if f.status == "fail"}
    assert failed == {("upstream uptime_kuma (metrics)", "unexpected-shape")}


async def test_unknown_status_page_is_reported(
    tmp_path: Path, kuma_url: str, fake: FakeKuma
) -> None:
    settings = make_capability_config(kuma_url, tmp_path / "kuma_key")
    settings["capabilities"]["health"].update(status_pages=["lab", "nope"])
    settings["capabilities"]["health"]["request_timeout_seconds"] = 0.5
    report = await run_doctor(deployment(tmp_path, settings, {"health": POLICY}))
    failed = {(f.subject, f.code) for f in report.findings() if f.status == "fail"}
    # 1.23 never answers an unknown slug (a timeout); 2.x answers 404.
    want = "unreachable" if fake.hangs_on_unknown_slug else "name-unknown"
    assert failed == {("upstream uptime_kuma (page:nope)", want)}


async def test_tags_without_a_tag_source_are_unchecked(
    tmp_path: Path, kuma_url: str, version: str
) -> None:
    settings = make_capability_config(kuma_url, tmp_path / "kuma_key")
    settings["capabilities"]["health"]["status_pages"] = []
    policy = POLICY.replace('scope: {names: ["Web*", "No Such Monitor*"],', "scope: {tags: [env],")
    report = await run_doctor(deployment(tmp_path, settings, {"health": policy}))
    rule = [f for f in report.findings() if f.subject == "rule lab: tags"]
    assert len(rule) == 1
    # /metrics never gives a whole tag list (1.23 and 2.0 carry none; 2.5 only the tags present
    # when the monitor started): without a page that shows tags, a tag rule is unanswerable.
    assert rule[0].code == "scope-unchecked"
    assert "hidden" in rule[0].message


async def test_preview_lists_visible_monitors(tmp_path: Path, kuma_url: str) -> None:
    claims = {"client_id": "hermes", "groups": ["agents"]}
    report = await _doctor(tmp_path, kuma_url, claims=claims)
    assert report.preview is not None
    ((tools, rule, admits),) = report.preview.rows
    assert rule == "lab" and tools.startswith("health_list_services")
    assert admits is not None and admits["monitors"]
    assert all(name.casefold().startswith("web") for name in admits["monitors"])
    assert "health_list_services" in report.as_text()


async def test_preview_for_a_stranger_admits_nothing(tmp_path: Path, kuma_url: str) -> None:
    report = await _doctor(tmp_path, kuma_url, claims={"client_id": "someone-else"})
    assert report.preview is not None and report.preview.rows == []
    assert "admits nothing" in report.as_text()
