"""Loading a policy directory: what is read, what is refused, and where the error points."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.capability import Capability
from gateway.errors import PolicyError
from gateway.policy.loader import EMPTY_GLOBAL, PolicyLoadError, load_policy_dir

HEAD = "capability: demo\nrules:\n"
ECHO = "  - id: r1\n    tools: [demo_echo]\n"


def _error(
    policy_dir: Path, caps: dict[str, Capability], text: str, name: str = "demo.yaml"
) -> PolicyError:
    (policy_dir / name).write_text(text, "utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy_dir(policy_dir, caps)
    return info.value


# (policy text, line of the error, words in the message)
LOCATED = [
    pytest.param(
        HEAD + ECHO + "  - id: r2\n    tools:\n      - demo_echo\n      - demo_nope\n",
        8,
        "unknown tool demo_nope",
        id="unknown-tool",
    ),
    pytest.param(
        HEAD + ECHO + "    args:\n      count: {max: 5}\n      colour: {max: 5}\n",
        7,
        "unknown argument colour",
        id="unknown-arg",
    ),
    pytest.param(
        HEAD + "  - id: r1\n    tools: [demo_list]\n    scope:\n"
        "      allowed_prefixes: [a/]\n      owner: bob\n",
        7,
        "unknown scope key owner",
        id="unknown-scope-key",
    ),
    pytest.param(
        HEAD + "  - id: r1\n    tools: [demo_list]\n    result:\n      fields: [id, title, body]\n",
        6,
        "unknown result field body",
        id="unknown-result-field",
    ),
    pytest.param(
        HEAD + "  - id: r1\n    tools: [demo_list]\n    result:\n      truncate: {body: 10}\n",
        6,
        "unknown result field body in truncate",
        id="unknown-truncate-field",
    ),
    pytest.param(HEAD + ECHO + ECHO, 5, "rule id r1 is used twice", id="duplicate-rule-id"),
    pytest.param(
        HEAD + ECHO + "    tools: [demo_list]\n", 5, "duplicate key tools", id="duplicate-key"
    ),
    pytest.param(
        HEAD + ECHO + "    limits: {rate: 10 per hour}\n", 5, "rate must look like", id="bad-rate"
    ),
    pytest.param(
        HEAD + ECHO + "    when:\n      hours: 09:00-17:00\n      tz: Mars/Olympus\n",
        7,
        "tz",
        id="bad-tz",
    ),
    pytest.param(
        HEAD + ECHO + "    args:\n      text: {max: 5}\n",
        6,
        "min/max apply to numeric arguments only",
        id="numeric-bound-on-text",
    ),
    pytest.param(
        HEAD + ECHO + "    args:\n      count: {max_length: 5}\n",
        6,
        "max_length applies to text or list",
        id="length-bound-on-number",
    ),
    pytest.param(
        HEAD + ECHO + "    args:\n      count: {pattern: '[0-9]+'}\n",
        6,
        "pattern applies to text",
        id="pattern-on-number",
    ),
    pytest.param(
        HEAD + ECHO + "    args:\n      text: {pattern: '[a-'}\n",
        6,
        "regular expression",
        id="bad-regex",
    ),
    pytest.param(HEAD + ECHO + "    colour: red\n", 5, "unknown key colour", id="extra-key"),
    pytest.param(
        HEAD + "  - id: r1\n    tools: ['*']\n", 3, "only allowed on deny rules", id="star-on-allow"
    ),
    pytest.param(
        HEAD + "  - id: r1\n    who: {clients: [x]}\n",
        3,
        "must list its tools",
        id="allow-without-tools",
    ),
    pytest.param(
        HEAD + "  - id: r1\n    effect: deny\n    args: {count: {max: 1}}\n",
        3,
        "deny rule takes no args",
        id="args-on-deny",
    ),
    pytest.param(HEAD + "  - id: Bad_Id\n    tools: [demo_echo]\n", 3, "id", id="rule-id-case"),
    pytest.param(HEAD + ECHO + "    when: {hours: '25:00-26:00'}\n", 5, "HH:MM", id="bad-hours"),
    pytest.param(
        "capability: other\nrules: []\n", 1, "file is named demo.yaml", id="capability-mismatch"
    ),
    pytest.param(
        HEAD + ECHO + "    redact: [password]\n",
        5,
        "redact names unknown argument",
        id="unknown-redact",
    ),
    pytest.param(
        HEAD + "  - id: r1\n    tools: [demo_echo]\n   bad: indent\n",
        5,
        "invalid YAML",
        id="yaml-syntax",
    ),
]


@pytest.mark.parametrize(("text", "line", "words"), LOCATED)
def test_error_points_at_file_and_line(
    policy_dir: Path, capabilities: dict[str, Capability], text: str, line: int, words: str
) -> None:
    err = _error(policy_dir, capabilities, text)
    assert err.file == str(policy_dir / "demo.yaml")
    assert words in err.message
    assert err.line == line, str(err)
    assert str(err).startswith(f"{policy_dir / 'demo.yaml'}:{line}: ")


def test_every_problem_is_collected(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    text = HEAD + "  - id: r1\n    tools: [demo_nope]\n  - id: r2\n    tools: [demo_gone]\n"
    err = _error(policy_dir, capabilities, text)
    assert isinstance(err, PolicyLoadError)
    assert [(p.line, p.message.split(" (")[0]) for p in err.problems] == [
        (4, "unknown tool demo_nope in capability demo"),
        (6, "unknown tool demo_gone in capability demo"),
    ]


def test_scope_on_capability_without_scope_model(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    text = "capability: extra\nrules:\n  - id: r1\n    tools: [extra_ping]\n    scope: {a: 1}\n"
    err = _error(policy_dir, capabilities, text, "extra.yaml")
    assert (err.line, err.message) == (5, "capability extra takes no scope")


def test_scope_value_checked_by_scope_model(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    text = HEAD + "  - id: r1\n    tools: [demo_list]\n    scope:\n      allowed_prefixes: 5\n"
    err = _error(policy_dir, capabilities, text)
    assert err.line == 6
    assert "allowed_prefixes" in err.message


def test_policy_for_unregistered_capability(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    err = _error(policy_dir, capabilities, "capability: ghost\nrules: []\n", "ghost.yaml")
    assert err.message == "no capability named ghost is registered"
    assert err.file == str(policy_dir / "ghost.yaml")


def test_missing_gateway_yaml(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    (policy_dir / "gateway.yaml").unlink()
    with pytest.raises(PolicyError, match=r"gateway\.yaml is missing"):
        load_policy_dir(policy_dir, capabilities)


def test_missing_directory(tmp_path: Path, capabilities: dict[str, Capability]) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy_dir(tmp_path / "nope", capabilities)


def test_global_limits_validated(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    err = _error(policy_dir, capabilities, "max_result_chars: 60000\n", "gateway.yaml")
    assert err.line == 1
    assert "max_result_chars" in err.message


def test_ignored_files(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    before = load_policy_dir(policy_dir, capabilities)
    (policy_dir / "notes.txt").write_text("not: [yaml", "utf-8")
    (policy_dir / ".extra.yml").write_text("not: [yaml", "utf-8")
    (policy_dir / ".demo.yaml.swp").write_text("not: [yaml", "utf-8")
    (policy_dir / "more.cases.yaml").write_text("cases: []", "utf-8")
    (policy_dir / "sub").mkdir()
    (policy_dir / "sub" / "extra.yaml").write_text("x", "utf-8")
    after = load_policy_dir(policy_dir, capabilities)
    assert after.version == before.version
    assert after.files == ("demo.yaml", "gateway.yaml")


def test_capability_without_file_is_off(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    ps = load_policy_dir(policy_dir, capabilities)
    assert set(ps.capabilities) == {"demo"}
    assert "extra" not in ps.tools
    assert ps.tools["demo"] == ("demo_echo", "demo_list")


def test_loaded_set_is_typed_and_frozen(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    ps = load_policy_dir(policy_dir, capabilities)
    scope = ps.scopes["demo"]["hermes-list"]
    assert scope.model_dump() == {"allowed_prefixes": ["pub/"]}
    assert ps.arg_defaults["demo"]["demo_echo"] == {"text": "", "count": 1}
    assert ps.global_policy.limits is not None
    assert (ps.global_policy.limits.count, ps.global_policy.limits.period_seconds) == (600, 3600)
    with pytest.raises(TypeError):
        ps.capabilities["x"] = ps.capabilities["demo"]  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: &x [*x]\n", id="self-alias"),
        pytest.param("---\na: 1\n---\nb: 2\n", id="two-documents"),
        pytest.param("a: !!python/object:os.system 'true'\n", id="python-tag"),
        pytest.param(
            "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
            id="alias-bomb",
        ),
        pytest.param("- a\n- b\n", id="not-a-mapping"),
        pytest.param("? [a, b]\n: c\n", id="complex-key"),
    ],
)
def test_hostile_yaml_is_refused(
    policy_dir: Path, capabilities: dict[str, Capability], text: str
) -> None:
    err = _error(policy_dir, capabilities, text)
    assert err.file == str(policy_dir / "demo.yaml")


def test_non_utf8(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    (policy_dir / "demo.yaml").write_bytes(b"capability: d\xffmo\n")
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy_dir(policy_dir, capabilities)


@pytest.mark.parametrize("text", ["", "  \n\n", "# nothing set\n"])
def test_empty_gateway_yaml_is_refused(
    policy_dir: Path, capabilities: dict[str, Capability], text: str
) -> None:
    # What an in-place rewrite shows between truncate and write: never "all defaults".
    (policy_dir / "gateway.yaml").write_text(text, "utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy_dir(policy_dir, capabilities)
    assert info.value.message == EMPTY_GLOBAL
    assert info.value.file == str(policy_dir / "gateway.yaml")


def test_gateway_yaml_defaults(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\n", "utf-8")
    g = load_policy_dir(policy_dir, capabilities).global_policy
    assert (g.kill_switch, g.maintenance.enabled, g.limits) == (False, False, None)
    assert (g.max_result_chars, g.tool_timeout_seconds) == (50_000, 10.0)


def test_empty_capability_file_is_an_error(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    err = _error(policy_dir, capabilities, "")
    assert err.message == "the file must hold a mapping (key: value lines)"
