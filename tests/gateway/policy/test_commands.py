"""The operator commands: check, explain, diff, test, and the committed JSON Schema."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from gateway.capability import Capability
from gateway.cliresult import CommandResult
from gateway.policy import commands

DATA = Path(__file__).parent / "data"
SCHEMA = Path(__file__).parents[3] / "docs" / "policy.schema.json"
AT = datetime(2025, 1, 6, 11, 0, tzinfo=UTC)
HERMES = {"sub": "h1", "azp": "hermes", "groups": ["agents"]}


def _run(fn: Callable[..., CommandResult], *args: object, **kwargs: object) -> tuple[int, str]:
    result = fn(*args, **kwargs)  # the command returns what it found; it prints nothing
    return result.exit_code, result.text


def test_check_ok(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    code, out = _run(commands.check, policy_dir, capabilities)
    assert code == 0
    assert out.startswith("ok: policy ")
    assert "1 capabilities on, 6 rules" in out
    assert "off (no policy file): extra" in out


def test_check_reports_every_problem_with_file_and_line(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    text = (policy_dir / "demo.yaml").read_text("utf-8")
    text = text.replace("{rate: 60/hour, burst: 10}", "{rate: 60/fortnight, burst: 10}")
    (policy_dir / "demo.yaml").write_text(text, "utf-8")
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\nmax_result_chars: 0\n", "utf-8")
    code, out = _run(commands.check, policy_dir, capabilities)
    assert code == 1
    assert out.splitlines() == [
        f'{policy_dir / "demo.yaml"}:30: rules[3].limits.rate: rate must look like "60/hour" '
        "(second, minute, hour or day)",
        f"{policy_dir / 'gateway.yaml'}:2: max_result_chars: Input should be greater than "
        "or equal to 1",
    ]


def test_check_kill_switch_is_announced(capabilities: dict[str, Capability]) -> None:
    code, out = _run(commands.check, DATA / "killed", capabilities)
    assert code == 0 and "kill switch is ON" in out


def test_explain_allowed(capabilities: dict[str, Capability]) -> None:
    code, out = _run(
        commands.explain, DATA / "base", capabilities, HERMES, "demo_list", {"page_size": 5}, AT
    )
    assert code == 0
    assert "request: demo/demo_list sub=h1 client=hermes" in out
    assert "  rule block-mallory (deny): who.users does not match" in out
    assert "  rule no-list-at-night (deny): outside its time window" in out
    assert "  rule hermes-echo (allow): tool demo_list not listed" in out
    assert "  rule hermes-list (allow): matches" in out
    assert "allowed: yes" in out and "reasons: allowed" in out and "rule: hermes-list" in out
    assert 'scope={"allowed_prefixes": ["pub/"]}' in out
    assert "cache_ttl=30.0" in out


def test_explain_denied(capabilities: dict[str, Capability]) -> None:
    code, out = _run(
        commands.explain, DATA / "base", capabilities, HERMES, "demo_echo", {"count": 99}, AT
    )
    assert code == 0
    assert "allowed: no" in out and "reasons: arg-out-of-range" in out
    assert "message to the agent: argument count must be at most 20" in out


def test_explain_load_error(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    (policy_dir / "gateway.yaml").write_text("kill_switch: maybe\n", "utf-8")
    code, out = _run(commands.explain, policy_dir, capabilities, HERMES, "demo_echo", None, AT)
    assert code == 1 and f"{policy_dir / 'gateway.yaml'}:1: kill_switch" in out


def test_diff(tmp_path: Path, capabilities: dict[str, Capability]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(DATA / "base", a)
    shutil.copytree(DATA / "base", b)
    text = (b / "demo.yaml").read_text("utf-8")
    text = text.replace("tools: [demo_list]\n    args:", "tools: [demo_list, demo_echo]\n    args:")
    text = text.replace("page_size: {max: 20}", "page_size: {max: 50}")
    text = text.replace("fields: [id, title]", "fields: [id]")
    text = text.replace("allowed_prefixes: [pub/]", "allowed_prefixes: [pub/, shared/]")
    (b / "demo.yaml").write_text(text, "utf-8")
    (b / "gateway.yaml").write_text("kill_switch: true\n", "utf-8")
    code, out = _run(commands.diff, a, b, capabilities)
    assert code == 0
    lines = [line.strip() for line in out.splitlines()[1:]]
    assert "gateway: kill_switch: false -> true" in lines
    assert "demo: rule hermes-list: clients=hermes gains demo_echo" in lines
    assert "demo: rule hermes-list: args.page_size.max: 20.0 -> 50.0 (widened)" in lines
    assert "demo: rule hermes-list: result field removed: title" in lines
    assert (
        'demo: rule hermes-list: scope.allowed_prefixes: ["pub/"] -> ["pub/", "shared/"]' in lines
    )
    code, same = _run(commands.diff, a, a, capabilities)
    assert code == 0 and "no differences" in same


def test_diff_rules_added_removed_and_capability_on(
    tmp_path: Path, capabilities: dict[str, Capability]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(DATA / "base", a)
    shutil.copytree(DATA / "base", b)
    (b / "extra.yaml").write_text(
        "capability: extra\nrules:\n  - id: ops-ping\n    who: {groups: [ops]}\n"
        "    tools: [extra_ping]\n",
        "utf-8",
    )
    text = (
        (b / "demo.yaml").read_text("utf-8").replace("  - id: block-mallory", "  - id: block-eve")
    )
    (b / "demo.yaml").write_text(text.replace("users: [mallory]", "users: [eve]"), "utf-8")
    code, out = _run(commands.diff, a, b, capabilities)
    assert code == 0
    assert "demo: rule block-eve: users=eve is now denied *" in out
    assert "demo: rule block-mallory: users=mallory is no longer denied *" in out
    assert "extra: capability turned on (policy file added)" in out
    assert "extra: rule ops-ping: groups=ops gains extra_ping" in out


def test_policy_test_passes(capabilities: dict[str, Capability]) -> None:
    code, out = _run(commands.test, DATA / "base", capabilities, now=AT)
    assert code == 0
    assert out.splitlines()[-1].startswith("32 passed, 0 failed")


def test_policy_test_reports_failures(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    (policy_dir / "wrong.cases.yaml").write_text(
        "cases:\n"
        "  - note: ok case\n"
        "    request: {claims: {sub: x}, tool: demo_list}\n"
        "    want: {decision: deny}\n"
        "  - note: wrong expectation\n"
        "    request: {claims: {sub: x}, tool: demo_list}\n"
        "    want: {decision: allow, reasons: [allowed], rule_id: r9}\n",
        "utf-8",
    )
    code, out = _run(commands.test, policy_dir, capabilities, "wrong.cases.yaml", now=AT)
    assert code == 1
    assert (
        f"{policy_dir / 'wrong.cases.yaml'}:5: FAIL wrong expectation: decision: want allow, "
        "got deny; reasons: want [allowed], got [default-deny]; rule_id: want r9, got None" in out
    )
    assert out.splitlines()[-1].startswith("1 passed, 1 failed")


def test_policy_test_bad_case_file(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    (policy_dir / "bad.cases.yaml").write_text(
        "cases:\n  - note: x\n    request: {tool: demo_list}\n    want: {decision: maybe}\n",
        "utf-8",
    )
    code, out = _run(commands.test, policy_dir, capabilities, "bad.cases.yaml", now=AT)
    assert code == 1 and f"{policy_dir / 'bad.cases.yaml'}:4:" in out


def test_policy_test_without_cases(tmp_path: Path, capabilities: dict[str, Capability]) -> None:
    shutil.copytree(DATA / "killed", tmp_path / "p", ignore=shutil.ignore_patterns("*.cases.yaml"))
    code, out = _run(commands.test, tmp_path / "p", capabilities)
    assert code == 1 and "no case files" in out


def test_committed_schema_is_current() -> None:
    assert json.loads(SCHEMA.read_text("utf-8")) == commands.json_schema(), (
        "docs/policy.schema.json drifted: regenerate with gateway.policy.commands.write_json_schema"
    )


def test_schema_describes_both_files() -> None:
    schema = commands.json_schema()
    defs = schema["$defs"]
    assert defs["Rule"]["additionalProperties"] is False
    assert set(defs["Rule"]["properties"]) >= {"id", "who", "tools", "args", "scope", "result"}
    assert {"kill_switch", "maintenance"} <= set(defs["GlobalPolicy"]["properties"])
    assert len(schema["oneOf"]) == 2
