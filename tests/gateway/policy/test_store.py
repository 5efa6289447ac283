"""The policy store: atomic replacement, last good set kept, SIGHUP, file watcher latency."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.capability import Capability, Principal
from gateway.errors import PolicyError
from gateway.policy.evaluate import CallRequest, evaluate
from gateway.policy.reasons import Reason
from gateway.policy.store import PolicyStore, ReloadEvent

HERMES = Principal(sub="h1", client_id="hermes", groups=("agents",))
T0 = datetime(2025, 1, 6, 11, 0, tzinfo=UTC)
BAD = "capability: demo\nrules:\n  - id: r1\n    tools: [demo_nope]\n"


class Recorder:
    def __init__(self) -> None:
        self.events: list[ReloadEvent] = []
        self.arrived = asyncio.Event()

    def __call__(self, event: ReloadEvent) -> None:
        self.events.append(event)
        self.arrived.set()

    async def next(self, timeout: float = 5.0) -> ReloadEvent:
        await asyncio.wait_for(self.arrived.wait(), timeout)
        self.arrived.clear()
        return self.events[-1]


def _allowed(store: PolicyStore) -> bool:
    req = CallRequest(HERMES, "demo", "demo_list", {}, T0)
    return evaluate(req, store.current).allowed


def test_initial_failure_raises(policy_dir: Path, capabilities: dict[str, Capability]) -> None:
    (policy_dir / "demo.yaml").write_text(BAD, "utf-8")
    with pytest.raises(PolicyError, match="unknown tool demo_nope"):
        PolicyStore(policy_dir, capabilities, lambda e: None)


def test_invalid_edit_keeps_last_good_set(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    events: list[ReloadEvent] = []
    store = PolicyStore(policy_dir, capabilities, events.append, clock=lambda: T0)
    good = store.current
    assert [(e.ok, e.trigger) for e in events] == [(True, "start")]
    assert _allowed(store)

    (policy_dir / "demo.yaml").write_text(BAD, "utf-8")
    event = store.reload()
    assert not event.ok and not event.changed
    assert event.version == good.version
    assert event.error is not None
    assert event.error.startswith(
        f"{policy_dir / 'demo.yaml'}:4: unknown tool demo_nope in capability demo"
    )
    assert store.current is good and _allowed(store)
    assert (store.last_error, store.last_error_at, store.reload_failures) == (event.error, T0, 1)
    assert event.failures == 1

    (policy_dir / "demo.yaml").write_text(
        "capability: demo\nrules:\n  - id: only-echo\n    tools: [demo_echo]\n", "utf-8"
    )
    event = store.reload()
    assert event.ok and event.changed and event.version != good.version
    assert store.current.version == event.version
    assert store.last_error is None and store.reload_failures == 1
    assert not _allowed(store)
    assert [e.ok for e in events] == [True, False, True]


def test_callback_failure_does_not_break_reload(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    def explode(event: ReloadEvent) -> None:
        raise RuntimeError("sink down")

    store = PolicyStore(policy_dir, capabilities, explode)
    (policy_dir / "gateway.yaml").write_text("kill_switch: true\n", "utf-8")
    assert store.reload().ok
    assert store.current.global_policy.kill_switch


async def test_watcher_applies_kill_switch_within_one_second(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    rec = Recorder()
    store = PolicyStore(policy_dir, capabilities, rec)
    rec.arrived.clear()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(store.watch(stop))
    try:
        # readiness: change a policy file until the watcher reports a reload
        for i in range(50):
            (policy_dir / "gateway.yaml").write_text(f"kill_switch: false\n# probe {i}\n", "utf-8")
            try:
                await rec.next(timeout=0.2)
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("watcher never reported a change")
        await asyncio.sleep(0.3)  # let the readiness burst drain
        rec.arrived.clear()
        assert _allowed(store)
        seen = len(rec.events)

        # rewriting a file with the same bytes reloads silently: no event, same version
        (policy_dir / "demo.yaml").write_bytes((policy_dir / "demo.yaml").read_bytes())
        await asyncio.sleep(0.4)
        assert len(rec.events) == seen

        start = time.monotonic()
        (policy_dir / "gateway.yaml").write_text("kill_switch: true\n", "utf-8")
        while not store.current.global_policy.kill_switch:  # printed, not asserted
            assert time.monotonic() - start < 60, "kill switch never applied"
            await asyncio.sleep(0.01)
        print(f"kill switch latency {time.monotonic() - start:.3f} s")
        decision = evaluate(CallRequest(HERMES, "demo", "demo_list", {}, T0), store.current)
        assert decision.reasons == (Reason.KILL_SWITCH,)

        # an invalid edit seen by the watcher keeps the kill switch set in force
        rec.arrived.clear()
        (policy_dir / "demo.yaml").write_text(BAD, "utf-8")
        event = await rec.next()
        while event.ok:
            event = await rec.next()
        assert event.trigger == "watch" and store.current.global_policy.kill_switch
        assert store.reload_failures >= 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_lowering_a_guard_must_be_stated(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    # A partial rewrite of a file with the kill switch on can lose the kill_switch line.
    (policy_dir / "gateway.yaml").write_text("kill_switch: true\nmax_result_chars: 100\n")
    store = PolicyStore(policy_dir, capabilities, lambda e: None)
    (policy_dir / "gateway.yaml").write_text("max_result_chars: 100\n")
    event = store.reload()
    assert not event.ok and store.current.global_policy.kill_switch
    assert event.error == (
        f"{policy_dir / 'gateway.yaml'}:1: kill_switch is on; "
        "a policy that turns it off must say so (kill_switch: false)"
    )
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\n")
    assert store.reload().ok and not store.current.global_policy.kill_switch


def test_lowering_maintenance_must_be_stated(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\nmaintenance: {enabled: true}\n")
    store = PolicyStore(policy_dir, capabilities, lambda e: None)
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\nmaintenance: {message: hi}\n")
    assert not store.reload().ok and store.current.global_policy.maintenance.enabled
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\nmaintenance: {enabled: false}\n")
    assert store.reload().ok and not store.current.global_policy.maintenance.enabled


class _Rewriter:
    """Changes gateway.yaml while the store waits for it to settle (the store's sleep)."""

    def __init__(self, path: Path, contents: list[str]) -> None:
        self.path, self.contents = path, contents

    async def sleep(self, seconds: float) -> None:
        if self.contents:
            self.path.write_text(self.contents.pop(0))


async def test_a_lowered_guard_applies_only_once_settled(
    policy_dir: Path, capabilities: dict[str, Capability], monkeypatch: pytest.MonkeyPatch
) -> None:
    (policy_dir / "gateway.yaml").write_text("kill_switch: true\n")
    store = PolicyStore(policy_dir, capabilities, lambda e: None, settle=0.01)
    # a file that lowers the kill switch, but is still being written at each re-read
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\n# a\n")
    writes = ["kill_switch: false\n# ab\n", "kill_switch: true\n"]
    rewriter = _Rewriter(policy_dir / "gateway.yaml", writes)
    monkeypatch.setattr(asyncio, "sleep", rewriter.sleep)
    event = await store.reload_settled("watch")
    assert writes == [] and event.ok
    assert store.current.global_policy.kill_switch  # the final, settled content
    # a settled file lowers it
    (policy_dir / "gateway.yaml").write_text("kill_switch: false\n")
    event = await store.reload_settled("watch")
    assert event.ok and not store.current.global_policy.kill_switch


async def test_raising_a_guard_does_not_wait(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    store = PolicyStore(policy_dir, capabilities, lambda e: None, settle=3600)
    (policy_dir / "gateway.yaml").write_text("kill_switch: true\n")
    assert (await store.reload_settled("sighup")).ok
    assert store.current.global_policy.kill_switch
