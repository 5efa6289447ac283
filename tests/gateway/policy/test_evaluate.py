"""The evaluator beyond the decision table: obligations, errors deny, list equals call."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.capability import Principal
from gateway.policy.evaluate import (
    NOT_PERMITTED,
    CallRequest,
    allowed_tools,
    capability_for_tool,
    evaluate,
    evaluate_arguments,
)
from gateway.policy.loader import load_policy_dir
from gateway.policy.policyset import PolicySet
from gateway.policy.reasons import Reason

from .demo import registry

BASE = Path(__file__).parent / "data" / "base"
NOON_PARIS = datetime(2025, 1, 6, 11, 0, tzinfo=UTC)
HERMES = Principal(sub="h1", client_id="hermes", groups=("agents",))
MALLORY = Principal(sub="m1", client_id="hermes", username="mallory", groups=("agents",))
#: Arguments inside every bound of every rule in data/base.
IN_BOUNDS: dict[str, dict[str, Any]] = {
    "demo_echo": {"count": 5, "text": "hi"},
    "demo_list": {"page_size": 5, "unit": "a", "tags": ["abc"], "ratio": 1.0},
}


@pytest.fixture(scope="module")
def base() -> PolicySet:
    return load_policy_dir(BASE, registry())


def _call(
    ps: PolicySet,
    principal: Principal,
    tool: str,
    args: Mapping[str, Any] | None,
    now: datetime = NOON_PARIS,
) -> Any:
    return evaluate(CallRequest(principal, "demo", tool, args, now), ps)


def test_allow_carries_obligations(base: PolicySet) -> None:
    d = _call(base, HERMES, "demo_list", {"page_size": 5})
    assert d.allowed and d.reasons == (Reason.ALLOWED,) and d.rule_id == "hermes-list"
    assert d.policy_version == base.version
    ob = d.obligations
    assert ob is not None and ob.rule_id == "hermes-list"
    assert ob.scope is not None and ob.scope.model_dump() == {"allowed_prefixes": ["pub/"]}
    assert ob.result is not None and ob.result.fields == ["id", "title"]
    assert ob.result.truncate == {"title": 40} and ob.result.max_items == 10
    assert ob.limits is not None and (ob.limits.count, ob.limits.period_seconds) == (60, 3600)
    assert ob.limits.burst == 10
    assert ob.cache_ttl == 30
    assert ob.redact == ()


def test_scope_handed_out_is_a_copy(base: PolicySet) -> None:
    first = _call(base, HERMES, "demo_list", {}).obligations
    assert first is not None and first.scope is not None
    first.scope.allowed_prefixes.append("private/")
    again = _call(base, HERMES, "demo_list", {}).obligations
    assert again is not None and again.scope is not None
    assert again.scope.model_dump() == {"allowed_prefixes": ["pub/"]}


def test_redaction_applies_to_denied_calls_too(base: PolicySet) -> None:
    allowed = _call(base, HERMES, "demo_echo", {"count": 5, "text": "secret"})
    assert allowed.allowed and allowed.redact == ("text",)
    assert allowed.obligations is not None and allowed.obligations.redact == ("text",)
    denied = _call(base, MALLORY, "demo_echo", {"count": 5, "text": "secret"})
    assert not denied.allowed and denied.redact == ("text",)
    killed = evaluate(
        CallRequest(HERMES, "demo", "demo_echo", {"text": "x"}, NOON_PARIS),
        dataclasses.replace(
            base, global_policy=base.global_policy.model_copy(update={"kill_switch": True})
        ),
    )
    assert killed.reasons == (Reason.KILL_SWITCH,) and killed.redact == ("text",)


def test_trace_names_every_rule_considered(base: PolicySet) -> None:
    req = CallRequest(HERMES, "demo", "demo_echo", {"count": 50}, NOON_PARIS)
    d = evaluate(req, base, explain=True)
    assert evaluate(req, base).reasons == d.reasons  # the index never changes a decision
    text = "\n".join(d.trace)
    for rule_id in ("block-mallory", "no-list-at-night", "hermes-echo"):
        assert f"rule {rule_id}" in text
    assert "who.users does not match" in text
    assert "argument count must be at most 20" in text
    assert d.trace[-1] == "decision: deny (arg-out-of-range)"


def test_naive_time_denies_with_policy_error(base: PolicySet) -> None:
    d = _call(base, HERMES, "demo_list", {}, datetime(2025, 1, 6, 12, 0))
    assert not d.allowed
    assert d.reasons == (Reason.POLICY_ERROR,)
    assert d.message == NOT_PERMITTED


class _Exploding(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("boom")


def test_an_error_inside_a_rule_denies_it_is_never_skipped(base: PolicySet) -> None:
    broken = dataclasses.replace(base, arg_defaults=_Exploding())
    d = _call(broken, HERMES, "demo_echo", {"count": 5})
    assert not d.allowed
    assert d.reasons == (Reason.POLICY_ERROR,)
    assert d.obligations is None and d.message == NOT_PERMITTED
    assert any("evaluation failed: RuntimeError" in line for line in d.trace)


def test_garbage_policy_set_denies() -> None:
    d = evaluate(CallRequest(HERMES, "demo", "demo_echo", {}, NOON_PARIS), None)  # type: ignore[arg-type]
    assert not d.allowed and d.reasons == (Reason.POLICY_ERROR,)


def test_denials_never_reveal_whether_a_tool_exists(base: PolicySet) -> None:
    nobody = Principal(sub="n1")
    messages = {
        _call(base, nobody, "demo_list", {}).message,
        _call(base, nobody, "demo_nope", {}).message,
        evaluate(CallRequest(nobody, "extra", "extra_ping", {}, NOON_PARIS), base).message,
        evaluate(CallRequest(nobody, "ghost", "ghost_x", {}, NOON_PARIS), base).message,
        _call(base, MALLORY, "demo_echo", {}).message,
    }
    assert messages == {NOT_PERMITTED}


def test_capability_for_tool() -> None:
    caps = registry()
    assert capability_for_tool("demo_list", caps) == "demo"
    assert capability_for_tool("extra_ping", caps) == "extra"
    assert capability_for_tool("ghost_tool", caps) == "ghost"


CLIENTS = st.sampled_from([None, "hermes", "script", "other"])
USERS = st.sampled_from([None, "mallory", "bob"])
GROUPS = st.lists(st.sampled_from(["agents", "ops", "x"]), max_size=3, unique=True)
TIMES = st.builds(
    lambda dt, offset: dt.replace(tzinfo=timezone(timedelta(minutes=offset))),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(CLIENTS, USERS, GROUPS, TIMES)
def test_listed_tools_equal_callable_tools(
    base: PolicySet, client: str | None, user: str | None, groups: list[str], now: datetime
) -> None:
    principal = Principal(sub="p", client_id=client, username=user, groups=tuple(groups))
    caps = registry()
    listed = set(allowed_tools(principal, base, now, caps))
    callable_ = {
        (cap_name, t.name)
        for cap_name, cap in caps.items()
        for t in cap.tools
        if evaluate(
            CallRequest(principal, cap_name, t.name, IN_BOUNDS.get(t.name, {}), now), base
        ).allowed
    }
    assert listed == callable_


def test_tool_list_examples(base: PolicySet) -> None:
    caps = registry()
    assert allowed_tools(HERMES, base, NOON_PARIS, caps) == [
        ("demo", "demo_echo"),
        ("demo", "demo_list"),
    ]
    night = datetime(2025, 1, 6, 23, 0, tzinfo=UTC)
    assert allowed_tools(HERMES, base, night, caps) == [("demo", "demo_echo")]
    assert allowed_tools(MALLORY, base, NOON_PARIS, caps) == []


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CLIENTS, USERS, GROUPS, TIMES, st.booleans())
def test_the_rule_index_never_changes_a_decision(
    base: PolicySet,
    client: str | None,
    user: str | None,
    groups: list[str],
    now: datetime,
    with_args: bool,
) -> None:
    """The fast path (per-tool index) and the full walk (explain) decide alike, always."""
    principal = Principal(sub="p", client_id=client, username=user, groups=tuple(groups))
    for cap_name, cap in registry().items():
        for t in cap.tools:
            args = IN_BOUNDS.get(t.name, {}) if with_args else None
            req = CallRequest(principal, cap_name, t.name, args, now)
            fast, full = evaluate(req, base), evaluate(req, base, explain=True)
            assert (fast.allowed, fast.reasons, fast.rule_id, fast.redact) == (
                full.allowed,
                full.reasons,
                full.rule_id,
                full.redact,
            )
            assert fast.obligations == full.obligations


#: Arguments inside and outside the bounds of data/base (numbers, choices, patterns, lengths).
ARGS = st.sampled_from(
    [
        {},
        {"count": 5, "text": "hi"},
        {"count": 1},
        {"count": 500},
        {"count": "5"},
        {"text": "x" * 60},
        {"page_size": 5, "unit": "a", "tags": ["abc"], "ratio": 1.0},
        {"page_size": 50},
        {"unit": "c"},
        {"tags": ["ABC"]},
        {"tags": ["a", "b", "c", "d"]},
        {"ratio": 0.1},
        {"ratio": True},
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CLIENTS, USERS, GROUPS, TIMES, ARGS)
def test_arguments_decided_from_the_first_decision_equal_a_full_evaluation(
    base: PolicySet,
    client: str | None,
    user: str | None,
    groups: list[str],
    now: datetime,
    args: dict[str, Any],
) -> None:
    """The pipeline decides the tool, then its arguments from that first decision: the same
    decision, trace and obligations as evaluating the call with its arguments from scratch."""
    principal = Principal(sub="p", client_id=client, username=user, groups=tuple(groups))
    for cap_name, cap in registry().items():
        for t in cap.tools:
            first = evaluate(CallRequest(principal, cap_name, t.name, None, now), base)
            req = CallRequest(principal, cap_name, t.name, args, now)
            assert evaluate_arguments(first, req, base) == evaluate(req, base)


def test_arguments_of_another_policy_set_are_decided_in_full(base: PolicySet) -> None:
    first = _call(base, HERMES, "demo_echo", None)
    assert first.allowed
    other = dataclasses.replace(first, policy_version="another-set")
    req = CallRequest(HERMES, "demo", "demo_echo", {"count": 500}, NOON_PARIS)
    assert evaluate_arguments(other, req, base) == evaluate(req, base)
    assert not evaluate(req, base).allowed
