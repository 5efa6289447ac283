"""Shadow mode through the in-process gateway: disagreements noted and counted, never enforced;
the shadow set reloads with the live one, all or nothing, and never touches it."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.policy.shadow import SHADOW_DIR, ShadowStore
from tests.support import testcap
from tests.support.gateway_app import Gateway


def write_shadow(policy_dir: Path, edit: Any) -> Path:
    """``policy_dir/shadow``: a copy of the live files with ``edit`` applied to testcap.yaml."""
    shadow = policy_dir / SHADOW_DIR
    staging = policy_dir.parent / "shadow-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for f in policy_dir.glob("*.yaml"):
        shutil.copy(f, staging / f.name)
    data = yaml.safe_load((staging / "testcap.yaml").read_text())
    edit({r["id"]: r for r in data["rules"]}, data)
    (staging / "testcap.yaml").write_text(yaml.safe_dump(data))
    shutil.rmtree(shadow, ignore_errors=True)
    staging.rename(shadow)
    return shadow


def stricter(rules: dict[str, Any], data: dict[str, Any]) -> None:
    rules["hermes-list"]["args"] = {"page_size": {"max": 5}}  # 10 is refused in the shadow
    rules["readers-echo-only"]["tools"] = ["testcap_echo", "testcap_list"]  # readers gain list


def disagreements(gw: Gateway) -> dict[tuple[str, str], float]:
    body, _ = gw.runtime.telemetry.render()
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        if fam.name == "labgate_shadow_disagreements":
            for s in fam.samples:
                if s.name.endswith("_total"):
                    out[(s.labels["tool"], s.labels["change"])] = s.value
    return out


async def _call(gw: Gateway, tool: str, args: dict[str, Any], **who: Any) -> int:
    r = await gw.client.post(f"/v1/tools/{tool}", json=args, headers=gw.auth(**who))
    return r.status_code


async def test_disagreements_are_noted_and_counted_never_enforced(make_gateway: Any) -> None:
    async with make_gateway() as gw:
        write_shadow(gw.policy_dir, stricter)
        assert gw.runtime.shadow is not None
        gw.runtime.shadow.reload("manual")
        assert await _call(gw, "testcap_list", {"page_size": 10}) == 200  # live: max 20
        assert await _call(gw, "testcap_list", {"page_size": 3}) == 200  # both allow
        readers = {"client_id": "other", "groups": ("readers",)}
        assert await _call(gw, "testcap_list", {"page_size": 3}, **readers) == 403
        assert await _call(gw, "testcap_echo", {"text": "hi"}, **readers) == 200
        records = await gw.journal_records()
        notes = [r["notes"].get("shadow") for r in records]
        shadow_version = gw.runtime.shadow.current.version
        assert notes == [
            {"change": "narrow", "decision": "deny", "rule_id": "hermes-list",
             "reasons": ["arg-out-of-range"], "policy_version": shadow_version},
            None,
            {"change": "widen", "decision": "allow", "rule_id": "readers-echo-only",
             "reasons": ["allowed"], "policy_version": shadow_version},
            None,
        ]  # fmt: skip
        assert [r["decision"] for r in records] == ["allow", "allow", "deny", "allow"]
        assert disagreements(gw) == {("testcap_list", "narrow"): 1, ("testcap_list", "widen"): 1}


async def test_without_a_shadow_directory_nothing_is_noted(gw: Gateway) -> None:
    assert gw.runtime.shadow is not None and gw.runtime.shadow.current is None
    assert await _call(gw, "testcap_list", {"page_size": 10}) == 200
    (record,) = await gw.journal_records()
    assert "shadow" not in record["notes"]
    assert disagreements(gw) == {}


async def test_an_invalid_shadow_set_keeps_the_last_good_one_and_never_the_live(
    gw: Gateway,
) -> None:
    shadow_store = gw.runtime.shadow
    live_store = gw.runtime.policies
    assert shadow_store is not None and live_store is not None
    live_version = live_store.current.version
    shadow = write_shadow(gw.policy_dir, stricter)
    shadow_store.reload("manual")
    good = shadow_store.current
    assert good is not None
    (shadow / "testcap.yaml").write_text("capability: testcap\nrules: [{id: x, tools: [nope]}]\n")
    event = shadow_store.reload("manual")
    assert event is not None and not event.ok and "nope" in (event.error or "")
    assert shadow_store.current is good
    assert live_store.current.version == live_version
    assert await _call(gw, "testcap_list", {"page_size": 10}) == 200
    (record,) = await gw.journal_records()
    assert record["notes"]["shadow"]["change"] == "narrow"
    failed = {"trigger": "manual", "set": "shadow", "error": event.error}
    while not any(r["notes"] == failed for r in await gw.journal_records("policy_reload")):
        await _sleep()  # the reload's audit record is written in the background
    shutil.rmtree(shadow)  # gone: no shadow set at all
    event = shadow_store.reload("manual")
    assert event is not None and event.ok and shadow_store.current is None


async def test_the_shadow_set_follows_a_sighup_reload_of_the_live_set(gw: Gateway) -> None:
    shadow_store = gw.runtime.shadow
    assert shadow_store is not None and shadow_store.current is None
    write_shadow(gw.policy_dir, stricter)
    assert gw.runtime._sighup  # else the signal's default action would end the test run
    os.kill(os.getpid(), signal.SIGHUP)
    wanted = {"trigger": "sighup", "set": "shadow"}
    while not any(r["notes"] == wanted for r in await gw.journal_records("policy_reload")):
        await _sleep()  # the reload's audit record is written in the background
    assert shadow_store.current is not None
    assert await _call(gw, "testcap_list", {"page_size": 10}) == 200
    (record,) = await gw.journal_records()
    assert record["notes"]["shadow"]["change"] == "narrow"


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.01)


def test_a_shadow_store_without_its_directory_holds_nothing(tmp_path: Path) -> None:
    events: list[Any] = []
    store = ShadowStore(tmp_path, {"testcap": testcap.CAPABILITY}, events.append)
    assert store.reload("start") is None and store.current is None and events == []


async def test_other_obligations_under_the_same_rule_are_a_disagreement(gw: Gateway) -> None:
    def wider_scope(rules: dict[str, Any], data: dict[str, Any]) -> None:
        rules["hermes-list"]["scope"] = {"allowed_prefixes": ["a", "b"]}

    write_shadow(gw.policy_dir, wider_scope)
    assert gw.runtime.shadow is not None
    gw.runtime.shadow.reload("manual")
    assert await _call(gw, "testcap_list", {"page_size": 3}) == 200
    assert await _call(gw, "testcap_echo", {"text": "hi"}) == 200  # same rule, same terms
    first, second = await gw.journal_records()
    assert first["notes"]["shadow"]["change"] == "obligations"
    assert first["notes"]["shadow"]["rule_id"] == "hermes-list"
    assert "shadow" not in second["notes"]
    assert disagreements(gw) == {("testcap_list", "obligations"): 1}
