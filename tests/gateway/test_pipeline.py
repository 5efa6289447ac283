"""Pipeline properties that no face shows directly."""

from __future__ import annotations

import asyncio

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
