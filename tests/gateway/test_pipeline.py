"""Pipeline properties that no face shows directly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.errors import AuthError
from gateway.pipeline import STAGES
from tests.support import testcap
from tests.support.gateway_app import Gateway


async def test_a_cancelled_call_is_still_audited(gw: Gateway) -> None:
    pipeline = gw.runtime.pipeline
    task = asyncio.ensure_future(
        pipeline.call(
            headers=gw.auth(),
            client_host="127.0.0.1",
            tool_name="testcap_slow",
            raw_args={"seconds": 5},
            face="rest",
        )
    )
    await asyncio.sleep(0.2)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    records = await gw.journal_records()
    assert len(records) == 1
    assert records[0]["error_code"] == "cancelled"
    assert records[0]["decision"] == "error"
    assert records[0]["rule_id"] == "hermes-basic"


async def test_list_and_call_agree_for_every_tool_and_principal(gw: Gateway) -> None:
    principals = [
        ("hermes", ("agents",), None),
        ("someone", ("readers",), None),
        ("cached", (), None),
        ("x", ("agents",), "mallory"),
        ("nobody", (), None),
    ]
    minimal = {
        "testcap_echo": {"text": "x"},
        "testcap_list": {},
        "testcap_slow": {"seconds": 0},
        "testcap_fail": {"kind": "notfound"},
    }
    for client_id, groups, username in principals:
        headers = gw.auth(client_id, groups, username=username)
        listed = {
            t["name"] for t in (await gw.client.get("/v1/tools", headers=headers)).json()["tools"]
        }
        for tool, args in minimal.items():
            r = await gw.client.post(f"/v1/tools/{tool}", json=args, headers=headers)
            callable_ = r.status_code not in (401, 403)
            assert callable_ == (tool in listed), (client_id, tool, r.status_code)


async def test_each_stage_is_a_span_of_the_call(make_gateway: Any) -> None:
    exporter = InMemorySpanExporter()
    async with make_gateway(telemetry={"record_spans": True}) as g:
        g.runtime.telemetry.add_span_processor(SimpleSpanProcessor(exporter))
        r = await g.client.post("/v1/tools/testcap_echo", json={"text": "x"}, headers=g.auth())
        assert r.status_code == 200
        record = (await g.journal_records())[-1]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    call = spans["labgate.call"]
    for stage in ("labgate.authenticate", "labgate.decide", "labgate.tool", "labgate.audit"):
        assert spans[stage].parent is not None, stage
        assert spans[stage].parent.span_id == call.context.span_id, stage
    # authentication is the call's first stage (before the body is read), in one request
    assert spans["labgate.authenticate"].start_time <= spans["labgate.decide"].start_time
    request = spans["labgate.request"]
    assert call.parent is not None and call.parent.span_id == request.context.span_id
    assert format(call.context.trace_id, "032x") == record["trace_id"]


async def test_sighup_reloads_the_policy_set(gw: Gateway) -> None:
    import os
    import signal

    store = gw.runtime.policies
    assert store is not None
    path = gw.policy_dir / "gateway.yaml"
    path.write_text(path.read_text().replace("kill_switch: false", "kill_switch: true"))
    assert gw.runtime._sighup  # else the signal's default action would end the test run
    os.kill(os.getpid(), signal.SIGHUP)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if store.current.global_policy.kill_switch:
            break
    assert store.current.global_policy.kill_switch
    r = await gw.client.post("/v1/tools/testcap_echo", json={"text": "x"}, headers=gw.auth())
    assert r.status_code == 503
    reloads = [x for x in await gw.journal_records(None) if x["kind"] == "policy_reload"]
    assert reloads[-1]["notes"]["trigger"] == "sighup"


async def test_identical_calls_survive_the_first_callers_cancellation(gw: Gateway) -> None:
    pipeline = gw.runtime.pipeline
    counter = gw.runtime._resources["testcap"].clients[testcap.Counter]
    assert isinstance(counter, testcap.Counter)

    def call() -> asyncio.Future[Any]:
        return asyncio.ensure_future(
            pipeline.call(
                headers=gw.auth("cached", ()),
                client_host="127.0.0.1",
                tool_name="testcap_slow",
                raw_args={"seconds": 1},
                face="rest",
            )
        )

    first = call()
    while counter.runs == 0:
        await asyncio.sleep(0.01)
    follower = call()
    while sum(f.waiters for f in pipeline.cache._inflight.values()) < 2:
        await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    outcome = await follower
    assert outcome.envelope["result"] == {"runs": 1}
    assert outcome.record.cached is True
    assert counter.runs == 1
    codes = sorted(str(r["error_code"]) for r in await gw.journal_records())
    assert codes == ["None", "cancelled"]


async def test_authentication_is_the_first_stage_and_a_rejection_is_audited_once(
    gw: Gateway,
) -> None:
    """A caller the gate rejects gets no call record, but the gate's aggregated record; no
    argument is read and no policy is asked."""
    reads = 0

    async def read_body() -> Any:
        nonlocal reads
        reads += 1
        return {"text": "x"}

    with pytest.raises(AuthError) as info:
        await gw.runtime.pipeline.call(
            headers={"Authorization": "Bearer not-a-token"},
            client_host="127.0.0.1",
            tool_name="testcap_echo",
            read_body=read_body,
            face="rest",
        )
    assert info.value.reason == "malformed-token"
    assert reads == 0
    assert await gw.journal_records() == []
    [failure] = await gw.journal_records("auth_failure")
    assert failure["reasons"] == ["unauthenticated", "malformed-token"]
    assert failure["face"] == "rest"


def test_the_stages_are_listed_once_in_order() -> None:
    assert [s.__name__ for s in STAGES] == [
        "authenticate",
        "read_arguments",
        "resolve_tool",
        "decide",
        "bind_arguments",
        "decide_with_arguments",
        "rate_limit",
        "execute",
        "shape_result",
    ]
