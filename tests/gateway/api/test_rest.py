"""The REST face through the whole pipeline, in process, over the test capability."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.gateway_app import Gateway


async def call(gw: Gateway, tool: str, body: Any, **auth: Any) -> Any:
    return await gw.client.post(f"/v1/tools/{tool}", json=body, headers=gw.auth(**auth))


async def test_list_is_exactly_what_the_policy_allows(gw: Gateway) -> None:
    r = await gw.client.get("/v1/tools", headers=gw.auth())
    assert r.status_code == 200
    names = {t["name"] for t in r.json()["tools"]}
    assert names == {"testcap_echo", "testcap_list", "testcap_slow", "testcap_fail"}

    r = await gw.client.get("/v1/tools", headers=gw.auth("someone", ("readers",)))
    assert {t["name"] for t in r.json()["tools"]} == {"testcap_echo"}

    r = await gw.client.get("/v1/tools", headers=gw.auth("x", ("agents",), username="mallory"))
    assert r.json()["tools"] == []


async def test_list_formats_are_strict_and_read_only(gw: Gateway) -> None:
    r = await gw.client.get("/v1/tools?format=openai", headers=gw.auth())
    fn = next(t for t in r.json()["tools"] if t["function"]["name"] == "testcap_list")["function"]
    assert fn["strict"] is True
    params = fn["parameters"]
    assert params["additionalProperties"] is False
    assert set(params["required"]) == set(params["properties"]) == {"page_size", "prefix"}
    assert "null" in params["properties"]["page_size"]["type"]  # optional -> nullable
    r = await gw.client.get("/v1/tools?format=anthropic", headers=gw.auth())
    tool = next(t for t in r.json()["tools"] if t["name"] == "testcap_echo")
    assert tool["input_schema"]["additionalProperties"] is False
    r = await gw.client.get("/v1/tools?format=mcp", headers=gw.auth())
    tool = next(t for t in r.json()["tools"] if t["name"] == "testcap_echo")
    assert tool["annotations"]["readOnlyHint"] is True
    assert tool["annotations"]["openWorldHint"] is False
    assert tool["outputSchema"]["type"] == "object"


async def test_unknown_format_is_a_problem_that_does_not_echo(gw: Gateway) -> None:
    bogus = "bogus-<script>x</script>"
    r = await gw.client.get("/v1/tools", params={"format": bogus}, headers=gw.auth())
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "invalid_arguments" and body["type"].endswith(":invalid_arguments")
    assert body["detail"] == "format must be one of: mcp, openai, anthropic."
    assert "bogus" not in r.text and "script" not in r.text
    assert r.headers["x-request-id"] == body["request_id"]
    anonymous = await gw.client.get("/v1/tools", params={"format": bogus})
    assert anonymous.status_code == 401  # authentication first: nothing learned without a token


async def test_nullable_optional_argument_means_default(gw: Gateway) -> None:
    r = await call(gw, "testcap_list", {"page_size": None, "prefix": None})
    assert r.status_code == 200, r.text
    assert len(r.json()["result"]["items"]) == 10


async def test_unauthenticated_gets_401_with_resource_metadata(gw: Gateway) -> None:
    r = await gw.client.post("/v1/tools/testcap_echo", json={"text": "hi"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "resource_metadata=" in r.headers["www-authenticate"]
    assert r.json()["code"] == "unauthenticated"
    r = await gw.client.get("/v1/tools", headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_call_returns_envelope_and_audits_with_redaction(gw: Gateway) -> None:
    r = await call(gw, "testcap_echo", {"text": "private words", "count": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"] == {"text": "private words" * 2, "count": 2, "who": "sub-hermes"}
    assert body["untrusted"] == ["text"]
    assert body["provenance"]["capability"] == "testcap"
    assert body["provenance"]["tool"] == "testcap_echo"
    assert body["partial"] is False
    records = [x for x in await gw.journal_records() if x["kind"] == "call"]
    assert len(records) == 1
    rec = records[0]
    assert rec["decision"] == "allow"
    assert rec["rule_id"] == "hermes-basic"
    assert rec["arguments"] == {"text": "[redacted]", "count": 2}
    assert rec["request_id"] == body["request_id"]
    assert rec["trace_id"] and len(rec["trace_id"]) == 32  # the OTel trace of the call
    assert rec["client_id"] == "hermes" and rec["sub"] == "sub-hermes"
    assert rec["policy_version"] == gw.runtime.policies.current.version  # type: ignore[union-attr]


async def test_argument_bound_from_policy_denies_with_useful_message(gw: Gateway) -> None:
    r = await call(gw, "testcap_echo", {"text": "hi", "count": 9})
    assert r.status_code == 403
    assert r.json()["code"] == "denied"
    assert "count" in r.json()["detail"]
    rec = (await gw.journal_records())[-1]
    assert rec["decision"] == "deny"
    assert "arg-out-of-range" in rec["reasons"]


async def test_invalid_arguments_never_echo_input(gw: Gateway) -> None:
    r = await call(gw, "testcap_echo", {"text": "hi", "evil": "<script>leak</script>"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_arguments"
    assert "leak" not in r.text
    r = await gw.client.post("/v1/tools/testcap_echo", content=b"{not json", headers=gw.auth())
    assert r.status_code == 422
    r = await gw.client.post("/v1/tools/testcap_echo", content=b"x" * 70_000, headers=gw.auth())
    assert r.status_code == 422
    r = await gw.client.post(
        "/v1/tools/testcap_echo", content=b"[" * 30_000 + b"]" * 30_000, headers=gw.auth()
    )
    assert r.status_code == 422  # nesting too deep for the parser: invalid, not a crash
    assert len(await gw.journal_records()) == 4  # every attempt audited


async def test_unknown_tool_is_indistinguishable_from_forbidden(gw: Gateway) -> None:
    reader = {"client_id": "someone", "groups": ("readers",)}
    forbidden = await call(gw, "testcap_list", {}, **reader)
    unknown = await call(gw, "testcap_nope", {}, **reader)
    assert forbidden.status_code == unknown.status_code == 403
    strip = lambda b: {k: v for k, v in b.items() if k != "request_id"}  # noqa: E731
    assert strip(forbidden.json()) == strip(unknown.json())


async def test_scope_projection_truncation_and_item_cap(gw: Gateway) -> None:
    r = await call(gw, "testcap_list", {"page_size": 20})
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["result"]["items"]
    assert len(items) == 15  # max_items
    assert body["partial"] is True
    for item in items:
        assert set(item) == {"id", "title", "body"}  # secret projected away
        assert item["id"].startswith("a")  # scope
        assert len(item["body"]) == 101  # truncated to 100 + mark
    assert "s3cr3t" not in r.text
    assert body["untrusted"] == ["items[].body", "items[].title"]


async def test_upstream_failure_is_typed_and_safe(gw: Gateway) -> None:
    r = await call(gw, "testcap_fail", {"kind": "unavailable"})
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_unavailable"
    assert "10.0.0.5" not in r.text
    r = await call(gw, "testcap_fail", {"kind": "crash"})
    assert r.status_code == 500
    assert "hunter2" not in r.text and "Traceback" not in r.text
    r = await call(gw, "testcap_fail", {"kind": "notfound"})
    assert r.status_code == 404
    recs = await gw.journal_records()
    assert [x["error_code"] for x in recs] == [
        "upstream_unavailable",
        "internal_error",
        "not_found",
    ]
    # each failure's reason from the catalog, after the decision's own
    assert [x["reasons"] for x in recs] == [
        ["allowed", "upstream-unavailable"],
        ["allowed", "internal-error"],
        ["allowed", "not-found"],
    ]
    assert {x["decision"] for x in recs} == {"error"}
    assert recs[0]["upstream"] == "memory"


async def test_tool_timeout(gw: Gateway) -> None:
    r = await call(gw, "testcap_slow", {"seconds": 5})
    assert r.status_code == 504
    assert r.json()["code"] == "tool_timeout"  # the tool's own deadline, not an upstream's
    [record] = await gw.journal_records()
    assert record["decision"] == "error" and record["error_code"] == "tool_timeout"
    assert record["reasons"] == ["allowed", "tool-timeout"]  # the catalog's audit reason


async def test_single_flight_and_cache(gw: Gateway) -> None:
    async def one() -> Any:
        return await call(gw, "testcap_slow", {"seconds": 0.3}, client_id="cached", groups=())

    answers = await asyncio.gather(*(one() for _ in range(20)))
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["result"]["runs"] for a in answers} == {1}
    again = await one()
    assert again.json()["result"]["runs"] == 1 and again.json()["provenance"]["cached"] is True
    # Not cached for a rule without cache: each call runs.
    r = await call(gw, "testcap_slow", {"seconds": 0})
    assert r.json()["result"]["runs"] == 2


async def test_rate_limit(gw: Gateway) -> None:
    codes = []
    for _ in range(3):
        r = await call(gw, "testcap_echo", {"text": "x"}, client_id="limited", groups=())
        codes.append(r.status_code)
    assert codes == [200, 200, 429]
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["code"] == "rate_limited"


async def test_kill_switch_and_maintenance(gw: Gateway) -> None:
    store = gw.runtime.policies
    assert store is not None
    path = gw.policy_dir / "gateway.yaml"
    original = path.read_text()
    path.write_text(original.replace("kill_switch: false", "kill_switch: true"))
    assert store.reload().ok
    r = await call(gw, "testcap_echo", {"text": "x"})
    assert r.status_code == 503 and r.json()["code"] == "unavailable"
    listed = await gw.client.get("/v1/tools", headers=gw.auth())
    assert listed.json()["tools"] == []
    path.write_text(
        original.replace("maintenance: {enabled: false}", "maintenance: {enabled: true}")
    )
    assert store.reload().ok
    r = await call(gw, "testcap_echo", {"text": "x"})
    assert r.status_code == 503
    path.write_text(original)
    assert store.reload().ok
    r = await call(gw, "testcap_echo", {"text": "x"})
    assert r.status_code == 200


async def test_invalid_policy_edit_keeps_last_good_set(gw: Gateway) -> None:
    store = gw.runtime.policies
    assert store is not None
    before = store.current.version
    (gw.policy_dir / "testcap.yaml").write_text(
        "capability: testcap\nrules:\n  - id: x\n    tools: [nope]\n"
    )
    event = store.reload()
    assert not event.ok and "testcap.yaml:" in (event.error or "")
    assert store.current.version == before
    r = await call(gw, "testcap_echo", {"text": "x"})
    assert r.status_code == 200
    await asyncio.sleep(0.05)  # the reload's audit record is written by a background task
    kinds = [(x["kind"], x["decision"]) for x in await gw.journal_records(None)]
    assert ("policy_reload", "failed") in kinds


async def test_audit_not_durable_fails_closed(gw: Gateway) -> None:
    journal = gw.runtime.journal
    assert journal is not None
    await journal.close()
    r = await call(gw, "testcap_echo", {"text": "x"})
    assert r.status_code == 503
    assert r.json()["code"] == "audit_unavailable"
    assert "x" * 3 not in r.text


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode)))
async def test_any_body_gets_a_clean_answer(gw: Gateway, body: bytes) -> None:
    r = await gw.client.post("/v1/tools/testcap_echo", content=body, headers=gw.auth())
    assert r.status_code in (200, 403, 422), r.text
    if r.status_code != 200:
        assert r.headers["content-type"].startswith("application/problem+json")
