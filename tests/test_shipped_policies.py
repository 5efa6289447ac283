"""The policies shipped in policies/ load, and their decision cases hold."""

from __future__ import annotations

from pathlib import Path

from gateway.policy import commands
from gateway.registry import load_registry

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def test_shipped_policies_check() -> None:
    result = commands.check(POLICIES, load_registry())
    assert result.exit_code == 0, result.text
    assert (
        "off (no policy file): -" in result.text
    )  # every built-in capability has its example policy


def test_shipped_decision_cases_pass() -> None:
    result = commands.test(POLICIES, load_registry())
    assert result.exit_code == 0, result.text
    assert len(list(POLICIES.glob("*.cases.yaml"))) >= 4


def test_proposals_example_checks_and_its_cases_pass() -> None:
    example = POLICIES / "examples" / "proposals"
    checked = commands.check(example, load_registry())
    assert checked.exit_code == 0, checked.text
    tested = commands.test(example, load_registry())
    assert tested.exit_code == 0, tested.text


def test_a_write_tool_without_approval_does_not_load(
    tmp_path: Path,
) -> None:
    example = POLICIES / "examples" / "proposals"
    (tmp_path / "gateway.yaml").write_text((example / "gateway.yaml").read_text())
    text = (example / "documents.yaml").read_text()
    start = text.index("    approval:")
    end = text.index("    limits: {rate: 30/hour")
    (tmp_path / "documents.yaml").write_text(text[:start] + text[end:])
    result = commands.check(tmp_path, load_registry())
    assert result.exit_code == 1
    assert "allows the write tool documents_propose_metadata without approval" in result.text


def test_a_write_tool_answer_is_never_cached(
    tmp_path: Path,
) -> None:
    example = POLICIES / "examples" / "proposals"
    (tmp_path / "gateway.yaml").write_text((example / "gateway.yaml").read_text())
    text = (example / "documents.yaml").read_text()
    cached = text.replace(
        "    limits: {rate: 30/hour, burst: 5}",
        "    limits: {rate: 30/hour, burst: 5}\n    cache: {ttl_seconds: 60}",
    )
    (tmp_path / "documents.yaml").write_text(cached)
    result = commands.check(tmp_path, load_registry())
    assert result.exit_code == 1
    assert "allows the write tool documents_propose_metadata: no cache" in result.text


def test_policy_diff_shows_who_may_approve(tmp_path: Path) -> None:
    from gateway.policy.diff import diff_sets
    from gateway.policy.loader import load_policy_dir

    example = POLICIES / "examples" / "proposals"
    after = tmp_path / "after"
    after.mkdir()
    (after / "gateway.yaml").write_text((example / "gateway.yaml").read_text())
    text = (example / "documents.yaml").read_text()
    changed = text.replace(
        'approvers: ["@owner:lab.example"]', 'approvers: ["@owner:lab.example", "@kid:lab.example"]'
    ).replace("daily_quota: 20", "daily_quota: 200")
    (after / "documents.yaml").write_text(changed)
    registry = load_registry()
    lines = diff_sets(load_policy_dir(example, registry), load_policy_dir(after, registry))
    text_out = "\n".join(lines)
    assert "approval: @kid:lab.example may now approve" in text_out
    assert "approval.daily_quota: 20 -> 200" in text_out
