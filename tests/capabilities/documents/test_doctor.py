"""``labgate doctor`` against the fake paperless-ngx: credentials, version, shape, scope names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.doctor.report import EXIT_FAILED, EXIT_OK, Report
from gateway.doctor.runner import run_doctor
from tests.gateway.doctor.deployment import deployment

from .documents_fixtures import RunningFake, make_capability_config
from .fake_paperless import TOKENS
from .fake_paperless_server import Reply

SHIPPED = (Path(__file__).parents[3] / "policies" / "documents.yaml").read_text("utf-8")
HERMES = {"client_id": "hermes", "groups": ["agents"]}


async def _doctor(
    tmp_path: Path,
    url: str,
    user: str = "admin",
    claims: dict[str, Any] | None = None,
) -> Report:
    settings = make_capability_config(url, tmp_path / "paperless_token", user)
    return await run_doctor(deployment(tmp_path, settings, {"documents": SHIPPED}), claims=claims)


def _failed(report: Report) -> set[tuple[str, str]]:
    return {(f.subject, f.code) for f in report.findings() if f.status == "fail"}


async def test_shipped_policy_resolves_for_a_user_who_sees_every_tag(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    report = await _doctor(tmp_path, paperless_fake.url)
    assert _failed(report) == set()
    upstream = [f for f in report.findings() if f.subject == "upstream paperless"]
    assert [f.code for f in upstream] == ["ok"]
    assert f"paperless-ngx {paperless_fake.fake.major}.x" in upstream[0].message
    resolved = [f for f in report.findings() if f.subject.endswith(": tags_none")]
    assert resolved and all(f.code == "ok" for f in resolved)
    assert report.exit_code() == EXIT_OK


async def test_a_tag_the_user_cannot_see_is_name_unknown(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    # The hermes paperless user cannot see the tag "medical": every call would fail closed.
    report = await _doctor(tmp_path, paperless_fake.url, user="hermes")
    failed = _failed(report)
    assert ("rule hermes-searches-agent-visible: tags_none", "name-unknown") in failed
    assert {code for _, code in failed} == {"name-unknown"}
    assert report.exit_code() == EXIT_FAILED


async def _with_twin(tmp_path: Path, paperless_fake: RunningFake, name: str) -> Report:
    """The doctor's report while a same-named (other case) twin of tag ``name`` exists."""
    fake = paperless_fake.fake
    original = next(t for t in fake.objects["tags"] if t["name"] == name)
    twin = {**original, "id": 901, "name": name.capitalize()}
    fake.objects["tags"].append(twin)
    fake.perms[("tags", 901)] = fake.perms[("tags", original["id"])]
    try:
        return await _doctor(tmp_path, paperless_fake.url)
    finally:
        fake.objects["tags"].remove(twin)


async def test_an_included_name_shared_by_two_tags_is_name_ambiguous(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    # Calls fail closed on an ambiguous inclusion: the doctor says so, and how to fix it.
    report = await _with_twin(tmp_path, paperless_fake, "agent-visible")
    failed = _failed(report)
    assert ("rule hermes-searches-agent-visible: tags_all", "name-ambiguous") in failed
    assert {code for _, code in failed} == {"name-ambiguous"}
    assert "{id: N}" in report.as_text()


async def test_an_excluded_name_shared_by_two_tags_excludes_both(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    # An exclusion takes every twin, as calls do: nothing to fix.
    report = await _with_twin(tmp_path, paperless_fake, "finance")
    assert _failed(report) == set()
    assert "'finance' names 2 tags" in report.as_text() and "all are excluded" in report.as_text()


async def test_a_wrong_token_is_credentials_rejected_and_never_printed(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    settings = make_capability_config(paperless_fake.url, tmp_path / "token")
    (tmp_path / "token").write_text("f" * 40)
    report = await run_doctor(deployment(tmp_path, settings, {"documents": SHIPPED}))
    assert _failed(report) == {("upstream paperless", "credentials-rejected")}
    assert "f" * 40 not in report.as_text() + report.as_json()
    assert TOKENS["admin"] not in report.as_text() + report.as_json()


async def test_an_unknown_server_version_is_reported(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    page: dict[str, Any] = {"count": 0, "next": None, "previous": None, "results": []}
    paperless_fake.fake.faults.append(
        Reply(200, json.dumps(page).encode(), headers={"x-version": "7.1.0"})
    )
    report = await _doctor(tmp_path, paperless_fake.url)
    found = [f for f in report.findings() if f.subject == "upstream paperless"]
    assert [(f.status, f.code) for f in found] == [("warn", "unexpected-version")]


async def test_a_base_url_that_is_not_paperless_is_unexpected_shape(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    report = await _doctor(tmp_path, paperless_fake.url + "/not-paperless")
    assert _failed(report) == {("upstream paperless", "unexpected-shape")}


async def test_preview_lists_tags_without_the_forbidden_ones(
    tmp_path: Path, paperless_fake: RunningFake
) -> None:
    report = await _doctor(tmp_path, paperless_fake.url, claims=HERMES)
    assert report.preview is not None
    rules = {rule: admits for _, rule, admits in report.preview.rows}
    admits = rules["hermes-searches-agent-visible"]
    assert admits is not None
    assert "medical" not in admits["tags"] and "finance" not in admits["tags"]
    assert "agent-visible" in admits["tags"]
    assert admits["tags required"] == ["agent-visible"]
