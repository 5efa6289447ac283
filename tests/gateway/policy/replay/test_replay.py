"""Replay: recorded calls of a real (in-process) gateway re-decided under a policy set.

The property: the live set replayed on its own traffic flips nothing and decides every call.
Then the flips of edited sets, the undecidable cases, and the report's exit codes.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.policy.loader import load_policy_dir
from gateway.policy.outcome import Change
from gateway.policy.policyset import PolicySet
from gateway.policy.replay import Report, parse_call, replay_call
from gateway.policy.replay.command import replay
from tests.gateway.policy.replay.served import REGISTRY, Served, served

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("replay")) as s:
        yield s


def _args(tool: str, draw: st.DrawFn) -> dict[str, Any]:
    if tool == "testcap_echo":
        return {"text": draw(st.text(min_size=0, max_size=3)), "count": draw(st.integers(-1, 9))}
    if tool == "testcap_list":
        out: dict[str, Any] = {"page_size": draw(st.integers(0, 40))}
        if draw(st.booleans()):
            out["prefix"] = draw(st.sampled_from(["a", "b", "a0"]))
        return out
    if tool == "testcap_slow":
        return {"seconds": 0, "key": draw(st.sampled_from(["k", "x"]))}
    if tool == "testcap_fail":
        return {"kind": draw(st.sampled_from(["unavailable", "notfound", "scope", "?"]))}
    return draw(st.dictionaries(st.sampled_from(["a", "text"]), st.integers(0, 3), max_size=2))


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict[str, Any], str, tuple[str, ...], str | None]:
    tool = draw(
        st.sampled_from(
            ["testcap_echo", "testcap_list", "testcap_slow", "testcap_fail", "nope_tool"]
        )
    )
    client = draw(st.sampled_from(["hermes", "hermes", "cached", "limited", "other"]))
    groups = draw(st.sampled_from([("agents",), ("agents",), ("readers",), (), ("agents", "x")]))
    username = draw(st.sampled_from([None, None, None, "mallory"]))
    return tool, _args(tool, draw), client, groups, username


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=calls())
def test_the_live_set_replayed_on_its_own_traffic_flips_nothing(
    gateway: Served, call: tuple[str, dict[str, Any], str, tuple[str, ...], str | None]
) -> None:
    tool, args, client, groups, username = call
    gateway.call(tool, args, client, groups, username)
    record = gateway.records()[-1]
    live = gateway.runtime.policies
    assert live is not None
    parsed = parse_call(record)
    if parsed is None:  # not decided by policy: unauthenticated or invalid arguments
        assert {"invalid-arguments", "unauthenticated"} & set(record["reasons"]), record
        return
    verdict = replay_call(parsed, live.current, REGISTRY, live.current)
    assert verdict.undecidable is None, (record, verdict)
    assert verdict.change is None, (record, verdict)


# -- edited sets --------------------------------------------------------------------------


def _edited(src: Path, dst: Path, edit: Any) -> PolicySet:
    shutil.copytree(src, dst)
    data = yaml.safe_load((dst / "testcap.yaml").read_text())
    edit({r["id"]: r for r in data["rules"]}, data)
    (dst / "testcap.yaml").write_text(yaml.safe_dump(data))
    return load_policy_dir(dst, REGISTRY)


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A fixed set of calls: allowed, denied by a bound, by a deny rule, by default."""
    with served(tmp_path_factory.mktemp("traffic")) as s:
        assert s.call("testcap_list", {"page_size": 15}) == 200
        assert s.call("testcap_list", {"page_size": 30}) == 403  # bound: max 20
        assert s.call("testcap_echo", {"text": "hi", "count": 2}) == 200  # text is redacted
        assert s.call("testcap_echo", {"text": "hi"}, "other", ("readers",)) == 200
        assert s.call("testcap_echo", {"text": "x"}, "other", ("readers",), "mallory") == 403
        assert s.call("testcap_list", {"page_size": 5}, "other", ("readers",)) == 403
        yield s


def _report(s: Served, proposed: PolicySet, baseline: PolicySet | None = None) -> Report:
    return replay(
        proposed, REGISTRY, LONG_AGO, journal=s.runtime.settings.journal_path, baseline=baseline
    )


def _changes(report: Report) -> set[tuple[str, str, str]]:
    return {(g.principal, g.tool, g.change) for g in report.groups.values()}


def test_flips_in_both_directions_grouped_by_principal_and_tool(
    traffic: Served, tmp_path: Path
) -> None:
    def edit(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["hermes-list"]["args"] = {"page_size": {"max": 40}}  # 30 now allowed
        rules["readers-echo-only"]["tools"] = ["testcap_list"]  # readers: list, not echo

    report = _report(traffic, _edited(traffic.policy_dir, tmp_path / "p", edit))
    assert _changes(report) == {
        ("hermes/sub-hermes", "testcap_list", "widen"),
        ("other/sub-other", "testcap_list", "widen"),
        ("other/sub-other", "testcap_echo", "narrow"),
    }
    assert report.count("widen") == 2 and report.count("narrow") == 1
    assert report.decided == 6 and report.unchanged == 3
    assert report.exit_code("widen", False) == 1
    assert report.exit_code(None, False) == 0


def test_a_narrowing_alone_fails_only_fail_on_any(traffic: Served, tmp_path: Path) -> None:
    def edit(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["hermes-list"]["args"] = {"page_size": {"max": 10}}  # the call of 15: denied

    report = _report(traffic, _edited(traffic.policy_dir, tmp_path / "p", edit))
    assert _changes(report) == {("hermes/sub-hermes", "testcap_list", "narrow")}
    (group,) = report.groups.values()
    assert (group.before, group.after) == ("allow (hermes-list)", "deny (hermes-list)")
    assert report.exit_code("widen", False) == 0
    assert report.exit_code("any", False) == 1


def test_another_rule_and_other_obligations_are_flips(traffic: Served, tmp_path: Path) -> None:
    live = load_policy_dir(traffic.policy_dir, REGISTRY)

    def edit(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["hermes-list"]["scope"] = {"allowed_prefixes": ["a", "b"]}  # wider scope
        data["rules"].insert(0, {**rules["readers-echo-only"], "id": "readers-echo-new"})

    proposed = _edited(traffic.policy_dir, tmp_path / "p", edit)
    report = _report(traffic, proposed, baseline=live)
    assert _changes(report) == {
        ("hermes/sub-hermes", "testcap_list", "obligations"),
        ("other/sub-other", "testcap_echo", "rule"),
    }
    # Without the set that decided the calls, obligations cannot be compared: not a flip.
    assert _changes(_report(traffic, proposed)) == {("other/sub-other", "testcap_echo", "rule")}


def test_a_bound_on_a_redacted_argument_is_undecidable(traffic: Served, tmp_path: Path) -> None:
    def edit(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["hermes-basic"]["args"] = {"count": {"max": 5}, "text": {"max_length": 1}}

    report = _report(traffic, _edited(traffic.policy_dir, tmp_path / "p", edit))
    (group,) = report.groups.values()
    assert (group.principal, group.tool, group.change) == (
        "hermes/sub-hermes",
        "testcap_echo",
        "undecidable",
    )
    assert group.why == "argument text is redacted; rule hermes-basic bounds it"
    assert report.exit_code("widen", False) == 1
    assert report.exit_code("widen", True) == 0


def test_a_rule_on_entitlements_is_undecidable(traffic: Served, tmp_path: Path) -> None:
    def edit(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["readers-echo-only"]["who"] = {"entitlements": ["echo"]}

    report = _report(traffic, _edited(traffic.policy_dir, tmp_path / "p", edit))
    whys = {g.why for g in report.groups.values()}
    assert whys == {"entitlements are not recorded; rule readers-echo-only matches on them"}
    assert {g.tool for g in report.groups.values()} == {"testcap_echo"}


def test_a_call_refused_before_its_arguments_were_read(traffic: Served, tmp_path: Path) -> None:
    # other/readers asked for testcap_list and was refused on the tool: no arguments recorded.
    def bounded(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["readers-echo-only"]["tools"] = ["testcap_echo", "testcap_list"]
        rules["readers-echo-only"]["args"] = {"page_size": {"max": 10}}

    report = _report(traffic, _edited(traffic.policy_dir, tmp_path / "p", bounded))
    (group,) = [g for g in report.groups.values() if g.tool == "testcap_list"]
    assert group.change == "undecidable"
    assert group.why == (
        "arguments were not read (refused first); rule readers-echo-only bounds page_size"
    )


def test_the_window_leaves_older_calls_out(traffic: Served, tmp_path: Path) -> None:
    def edit(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["hermes-list"]["args"] = {"page_size": {"max": 40}}

    proposed = _edited(traffic.policy_dir, tmp_path / "p", edit)
    later = datetime.now(UTC) + timedelta(minutes=1)
    report = replay(proposed, REGISTRY, later, journal=traffic.runtime.settings.journal_path)
    assert report.records == 0 and report.groups == {}


def test_json_report(traffic: Served, tmp_path: Path) -> None:
    def edit(rules: dict[str, Any], data: dict[str, Any]) -> None:
        del data["rules"][-1]  # the deny rule for mallory

    report = _report(traffic, _edited(traffic.policy_dir, tmp_path / "p", edit))
    out = io.StringIO()
    report.print_json(out)
    data = json.loads(out.getvalue())
    assert data["counts"] == {"widen": 1, "narrow": 0, "rule": 0, "obligations": 0,
                              "undecidable": 0}  # fmt: skip
    (group,) = data["groups"]
    assert group["principal"] == "other/mallory"
    assert (group["before"], group["after"]) == ("deny (no-evil)", "allow (readers-echo-only)")
    assert Change.WIDEN == group["change"]
