"""Authoring traps and their messages: tool globs, .yml files, rule ids, aliases, global rules,
``policy check``/``test``/``diff`` output and ``--config`` after the subcommand."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from gateway.capability import Capability, Principal
from gateway.cli import main
from gateway.cliresult import CommandResult
from gateway.errors import PolicyError
from gateway.policy import commands
from gateway.policy.evaluate import CallRequest, allowed_tools, evaluate
from gateway.policy.loader import load_policy_dir
from gateway.policy.model import Who
from gateway.policy.policyset import PolicySet

from .demo import registry
from .test_evaluate import CLIENTS, GROUPS, IN_BOUNDS, TIMES, USERS

DATA = Path(__file__).parent / "data"
HEAD = "capability: demo\nrules:\n"
TOOLS = "its tools: demo_echo, demo_list; globs such as demo_* work too"


def _write(policy_dir: Path, text: str, name: str = "demo.yaml") -> None:
    (policy_dir / name).write_text(text, "utf-8")


def _problems(policy_dir: Path, caps: dict[str, Capability]) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_dir(policy_dir, caps)
    problems = getattr(info.value, "problems", (info.value,))
    return [str(p) for p in problems]


def _run(fn: Callable[..., CommandResult], *args: Any, **kwargs: Any) -> tuple[int, str]:
    result = fn(*args, **kwargs)  # the command returns what it found; it prints nothing
    return result.exit_code, result.text


# --- tool names and globs


def test_unknown_tool_suggests_and_lists_the_tools(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, HEAD + "  - id: r1\n    tools: [demo_ech]\n")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'demo.yaml'}:4: unknown tool demo_ech in capability demo "
        f"(did you mean demo_echo?); {TOOLS}"
    ]


def test_tool_of_another_capability_names_its_file(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, HEAD + "  - id: r1\n    tools: [extra_ping]\n")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'demo.yaml'}:4: unknown tool extra_ping in capability demo "
        f"(it is a tool of capability extra: policies/extra.yaml); {TOOLS}"
    ]


def test_allow_glob_expands_to_the_capabilitys_tools(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, HEAD + "  - id: r1\n    tools: ['demo_*', demo_echo]\n")
    ps = load_policy_dir(policy_dir, capabilities)
    assert ps.capabilities["demo"].rules[0].tools == ["demo_echo", "demo_list"]
    assert ps.globs["demo"] == {"r1": ("demo_*", "demo_echo")}
    anyone = Principal(sub="x")
    now = datetime.fromisoformat("2025-01-06T12:00:00+01:00")
    assert allowed_tools(anyone, ps, now, capabilities) == [
        ("demo", "demo_echo"),
        ("demo", "demo_list"),
    ]


@pytest.mark.parametrize("glob", ["demo_x*", "*_ping", "extra_*", "e*"])
def test_glob_matching_no_tool_of_the_capability_is_an_error(
    policy_dir: Path, capabilities: dict[str, Capability], glob: str
) -> None:
    # extra_ping exists, in another capability: a glob never reaches it.
    _write(policy_dir, HEAD + f"  - id: r1\n    tools: ['{glob}']\n")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'demo.yaml'}:4: tools: {glob} matches no tool of capability demo; "
        "its tools: demo_echo, demo_list"
    ]


def test_star_on_allow_points_to_globs(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, HEAD + "  - id: r1\n    tools: ['*']\n")
    assert _problems(policy_dir, capabilities) == [
        f'{policy_dir / "demo.yaml"}:3: rules[0]: "*" is only allowed on deny rules; '
        "list the tools to allow, by name or by a glob such as health_*"
    ]


def test_deny_glob_expands_too(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    text = HEAD + "  - id: r1\n    effect: deny\n    tools: ['demo_l?st']\n"
    text += "  - id: r2\n    tools: [demo_echo, demo_list]\n"
    _write(policy_dir, text)
    ps = load_policy_dir(policy_dir, capabilities)
    now = datetime.fromisoformat("2025-01-06T12:00:00+01:00")
    assert allowed_tools(Principal(sub="x"), ps, now, capabilities) == [("demo", "demo_echo")]


# --- files and rule ids


@pytest.mark.parametrize("name", ["extra.yml", "demo.YML", "demo.cases.yml"])
def test_yml_file_is_an_error_not_a_capability_switched_off(
    policy_dir: Path, capabilities: dict[str, Capability], name: str
) -> None:
    (policy_dir / name).write_text("capability: extra\nrules: []\n", "utf-8")
    stem = name.rsplit(".", 1)[0]
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / name}:1: policy files end in .yaml; {name} is not read: "
        f"rename it to {stem}.yaml"
    ]


def test_rule_id_of_gateway_yaml_may_not_recur_in_a_capability_file(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(
        policy_dir,
        "kill_switch: false\nrules:\n  - id: hermes-echo\n    when: {hours: '22:00-06:00'}\n",
        "gateway.yaml",
    )
    line = (policy_dir / "demo.yaml").read_text("utf-8").splitlines().index("  - id: hermes-echo")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'demo.yaml'}:{line + 1}: rule id hermes-echo is also a rule of "
        "gateway.yaml; rule ids must be unique across the set"
    ]


def test_duplicate_global_rule_id(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    rule = "  - id: night\n    when: {hours: '22:00-06:00'}\n"
    _write(policy_dir, "kill_switch: false\nrules:\n" + rule + rule, "gateway.yaml")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'gateway.yaml'}:5: rule id night is used twice"
    ]


def test_global_rule_must_narrow(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    _write(
        policy_dir, "kill_switch: false\nrules:\n  - id: all\n    effect: deny\n", "gateway.yaml"
    )
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'gateway.yaml'}:3: rules[0]: a global rule needs who or when "
        "(else it matches every call)"
    ]


def test_global_rule_takes_no_tools(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    text = "kill_switch: false\nrules:\n  - id: night\n    who: {users: [x]}\n    tools: [a]\n"
    _write(policy_dir, text, "gateway.yaml")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'gateway.yaml'}:5: rules[0]: unknown key tools"
    ]


# --- principal aliases

ALIASES = "kill_switch: false\nprincipals:\n  agents: {clients: [hermes], groups: [agents]}\n"


def test_alias_resolves_in_capability_rules(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, ALIASES, "gateway.yaml")
    _write(policy_dir, HEAD + "  - id: r1\n    who: {principal: agents}\n    tools: [demo_echo]\n")
    ps = load_policy_dir(policy_dir, capabilities)
    assert ps.capabilities["demo"].rules[0].who == Who(clients=["hermes"], groups=["agents"])


def test_alias_merges_with_other_keys(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, ALIASES, "gateway.yaml")
    text = HEAD + "  - id: r1\n    who: {principal: agents, users: [bob]}\n    tools: [demo_echo]\n"
    _write(policy_dir, text)
    who = load_policy_dir(policy_dir, capabilities).capabilities["demo"].rules[0].who
    assert who == Who(clients=["hermes"], groups=["agents"], users=["bob"])


def test_unknown_alias_is_an_error_with_file_and_line(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, ALIASES, "gateway.yaml")
    _write(
        policy_dir, HEAD + "  - id: r1\n    tools: [demo_echo]\n    who:\n      principal: agent\n"
    )
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'demo.yaml'}:6: who.principal: unknown principal alias agent "
        "(aliases of gateway.yaml principals: agents)"
    ]


def test_unknown_alias_without_any_defined(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, HEAD + "  - id: r1\n    tools: [demo_echo]\n    who: {principal: agents}\n")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'demo.yaml'}:5: who.principal: unknown principal alias agents "
        "(aliases of gateway.yaml principals: none are defined)"
    ]


def test_alias_and_rule_may_not_both_set_a_key(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, ALIASES, "gateway.yaml")
    text = HEAD + "  - id: r1\n    tools: [demo_echo]\n    who:\n      principal: agents\n"
    _write(policy_dir, text + "      groups: [ops]\n")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'demo.yaml'}:7: who: groups is already set by principal alias agents"
    ]


def test_broken_gateway_yaml_does_not_make_aliases_unknown(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    _write(policy_dir, ALIASES + "max_result_chars: 0\n", "gateway.yaml")
    _write(policy_dir, HEAD + "  - id: r1\n    tools: [demo_echo]\n    who: {principal: agents}\n")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'gateway.yaml'}:4: max_result_chars: Input should be greater than "
        "or equal to 1"
    ]


def test_alias_may_not_name_an_alias(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    _write(policy_dir, ALIASES + "  bots: {principal: agents}\n", "gateway.yaml")
    assert _problems(policy_dir, capabilities) == [
        f"{policy_dir / 'gateway.yaml'}:4: principals.bots: an alias cannot name another "
        "alias (principal: agents)"
    ]


def test_unresolved_alias_never_matches() -> None:
    # The loader resolves every alias; a set built around it still fails closed.
    ps = load_policy_dir(DATA / "global", registry())
    rule = ps.capabilities["demo"].rules[0]
    raw = rule.model_copy(update={"who": Who(principal="agents")})
    policy = ps.capabilities["demo"].model_copy(update={"rules": [raw]})
    broken = PolicySet(
        global_policy=ps.global_policy.model_copy(update={"rules": []}),
        capabilities={"demo": policy},
        version=ps.version,
        files=ps.files,
        tools=ps.tools,
        scopes=ps.scopes,
        arg_defaults=ps.arg_defaults,
    )
    who = Principal(sub="h", client_id="hermes", groups=("agents",))
    now = datetime.fromisoformat("2025-01-06T12:00:00+01:00")
    decision = evaluate(CallRequest(who, "demo", "demo_echo", {}, now), broken, explain=True)
    assert not decision.allowed
    assert "rule agents-use-demo (allow): who.principal does not match" in decision.trace


# --- global rules: the tool list and the calls still agree


@pytest.fixture(scope="module")
def global_set() -> PolicySet:
    return load_policy_dir(DATA / "global", registry())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(CLIENTS, USERS, GROUPS, TIMES)
def test_listed_tools_equal_callable_tools_under_global_rules(
    global_set: PolicySet, client: str | None, user: str | None, groups: list[str], now: datetime
) -> None:
    principal = Principal(sub="p", client_id=client, username=user, groups=tuple(groups))
    caps = registry()
    listed = set(allowed_tools(principal, global_set, now, caps))
    callable_ = {
        (cap_name, t.name)
        for cap_name, cap in caps.items()
        for t in cap.tools
        if evaluate(
            CallRequest(principal, cap_name, t.name, IN_BOUNDS.get(t.name, {}), now), global_set
        ).allowed
    }
    assert listed == callable_


def test_explain_traces_global_rules(global_set: PolicySet) -> None:
    who = Principal(sub="h", client_id="hermes", groups=("agents",))
    now = datetime.fromisoformat("2025-01-06T12:00:00+01:00")
    decision = evaluate(CallRequest(who, "demo", "demo_echo", {}, now), global_set, explain=True)
    assert decision.allowed and decision.gate_rule_id == "agents-only"
    assert decision.trace[:4] == (
        "global rule nothing-at-night (deny): outside its time window",
        "global rule block-mallory (deny): who.users does not match",
        "global rule agents-only (allow): matches",
        "rule agents-use-demo (allow): matches",
    )


# --- the commands


def test_check_prints_glob_expansions(capabilities: dict[str, Capability]) -> None:
    code, out = _run(commands.check, DATA / "global", capabilities)
    assert code == 0
    assert "  demo/agents-use-demo: tools demo_* = demo_echo, demo_list" in out.splitlines()


def test_check_points_scope_globs_to_doctor(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    code, out = _run(commands.check, policy_dir, capabilities)
    assert code == 0
    assert out.splitlines()[-1] == (
        "  note: scope globs are matched against the live upstream; "
        "`labgate doctor` reports one that matches nothing (glob-empty)"
    )
    code, out = _run(commands.check, DATA / "global", capabilities)
    assert code == 0 and "glob-empty" not in out  # no rule there has a scope


def test_policy_test_reports_rules_no_case_exercises(
    tmp_path: Path, capabilities: dict[str, Capability]
) -> None:
    target = tmp_path / "policies"
    shutil.copytree(DATA / "global", target)
    code, out = _run(commands.test, target, capabilities)
    assert code == 0
    assert "rules no case exercises" not in out
    cases = yaml.safe_load((target / "global.cases.yaml").read_text("utf-8"))
    kept = [c for c in cases["cases"] if c["want"].get("rule_id") != "script-echo"]
    kept = [c for c in kept if "mallory" not in str(c["request"]["claims"])]
    # script-on-weekends still lets a case through (to be denied by demo): exercised.
    (target / "global.cases.yaml").write_text(yaml.safe_dump({"cases": kept}), "utf-8")
    code, out = _run(commands.test, target, capabilities)
    assert code == 0
    assert out.splitlines()[-2] == (
        "rules no case exercises (2): gateway/block-mallory, demo/script-echo"
    )


def test_policy_test_tells_rules_of_capabilities_apart(
    tmp_path: Path, capabilities: dict[str, Capability]
) -> None:
    # Rule ids are per capability: a case deciding demo's r1 does not exercise extra's r1.
    target = tmp_path / "policies"
    target.mkdir()
    (target / "gateway.yaml").write_text("kill_switch: false\n", "utf-8")
    (target / "demo.yaml").write_text(HEAD + "  - id: r1\n    tools: [demo_echo]\n", "utf-8")
    (target / "extra.yaml").write_text(
        "capability: extra\nrules:\n  - id: r1\n    tools: [extra_ping]\n", "utf-8"
    )
    case = {
        "note": "n",
        "request": {"tool": "demo_echo", "args": {}},
        "want": {"decision": "allow"},
    }
    (target / "a.cases.yaml").write_text(yaml.safe_dump({"cases": [case]}), "utf-8")
    code, out = _run(commands.test, target, capabilities)
    assert code == 0
    assert out.splitlines()[-2] == "rules no case exercises (1): extra/r1"


def test_diff_shows_glob_expansion_and_global_rules(
    tmp_path: Path, capabilities: dict[str, Capability]
) -> None:
    before = tmp_path / "before"
    after = tmp_path / "after"
    shutil.copytree(DATA / "global", before)
    shutil.copytree(DATA / "global", after)
    gateway = (after / "gateway.yaml").read_text("utf-8")
    gateway = gateway.replace('hours: "22:00-06:00"', 'hours: "21:00-06:00"')
    gateway = gateway.replace("groups: [agents]}", "groups: [agents, ops]}")
    (after / "gateway.yaml").write_text(gateway, "utf-8")
    demo = (after / "demo.yaml").read_text("utf-8").replace("[demo_echo]", '["demo_*"]')
    (after / "demo.yaml").write_text(demo, "utf-8")
    code, out = _run(commands.diff, before, after, capabilities)
    assert code == 0
    assert out.splitlines()[1:] == [
        "  gateway: principals.agents: clients=hermes groups=agents -> "
        "clients=hermes groups=agents,ops",
        '  gateway: rule nothing-at-night: deny anyone when {"days": null, "hours": '
        '"22:00-06:00", "tz": "Europe/Paris"} -> deny anyone when {"days": null, "hours": '
        '"21:00-06:00", "tz": "Europe/Paris"}',
        "  gateway: rule agents-only: allow clients=hermes groups=agents when always -> "
        "allow clients=hermes groups=agents,ops when always",
        "  demo: rule agents-use-demo: who: clients=hermes groups=agents -> "
        "clients=hermes groups=agents,ops",
        "  demo: rule script-echo: clients=script gains demo_list",
        '  demo: rule script-echo: tools ["demo_*"] expand to demo_echo, demo_list',
    ]


def test_config_after_the_subcommand_names_custom_capabilities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABGATE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\n", "utf-8")
    (policy_dir / "extra.yaml").write_text(
        "capability: extra\nrules:\n  - id: r1\n    tools: [extra_ping]\n", "utf-8"
    )
    config = tmp_path / "settings.yaml"
    doc = {"extra_capabilities": ["tests.gateway.policy.demo:EXTRA"], "auth": {"mode": "dev"}}
    config.write_text(yaml.safe_dump(doc), "utf-8")
    assert main(["policy", "check", str(policy_dir), "--config", str(config)]) == 0
    assert "on: extra" in capsys.readouterr().out
    assert main(["policy", "--config", str(config), "check", str(policy_dir)]) == 0
    assert main(["--config", str(config), "policy", "check", str(policy_dir)]) == 0
    capsys.readouterr()
    assert main(["policy", "check", str(policy_dir)]) == 1  # without it, extra is unknown
    assert "no capability named extra is registered" in capsys.readouterr().out


def test_shipped_global_rules_example_loads(tmp_path: Path) -> None:
    from gateway.registry import builtin_capabilities

    shipped = Path(__file__).parents[3] / "policies"
    target = tmp_path / "policies"
    shutil.copytree(shipped, target)
    text = (target / "gateway.yaml").read_text("utf-8")
    example = re.sub(r"(?m)^# (principals:|rules:| )", r"\1", text)
    assert example.count("\n") == text.count("\n") and "\nrules:\n" in example
    (target / "gateway.yaml").write_text(example, "utf-8")
    ps = load_policy_dir(target, {c.name: c for c in builtin_capabilities()})
    assert [r.id for r in ps.global_policy.rules] == ["quiet-hours", "agents-only"]
    assert ps.global_policy.rules[1].who == Who(clients=["hermes"], groups=["agents"])
