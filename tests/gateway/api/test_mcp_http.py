"""The MCP face over raw HTTP, in process: what real clients send (tests/../upstreams/mcp), the
guard in front of the SDK (Host, Origin, token, scope), sessions bound to their principal,
capability mounts, and one audit record per ``tools/call``.

Tokens come from the dev issuer here; the OIDC path is covered end to end in test_mcp_e2e.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import BaseModel, ConfigDict

from gateway.api.export import UNTRUSTED_NOTE
from gateway.api.mcp.profiles import SUMMARY_ERROR, SUMMARY_RESULT
from gateway.app import create_app
from gateway.audit.reader import JournalReader
from gateway.auth.dev import DevIssuer
from gateway.capability import Capability, ToolContext, tool
from gateway.registry import Registry
from tests.support import testcap
from tests.support.gateway_app import FIXTURE_POLICIES, gateway_settings

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
BASE = "http://127.0.0.1:8080"


class PingArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PingResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pong: bool


@tool("othercap_ping", title="Ping", output=PingResult)
async def ping(args: PingArgs, ctx: ToolContext) -> PingResult:
    """Answer."""
    return PingResult(pong=True)


OTHERCAP = Capability(
    name="othercap", title="Other", description="A second capability.", tools=(ping,)
)
OTHERCAP_POLICY = """\
capability: othercap
rules:
  - id: hermes-ping
    who: {clients: [hermes]}
    tools: [othercap_ping]
"""


class Mcp:
    """A raw Streamable HTTP speaker, as the SDK clients speak it."""

    def __init__(self, http: httpx.AsyncClient, issuer: DevIssuer) -> None:
        self.http = http
        self.issuer = issuer
        self._ids = 0

    def token(
        self, client_id: str = "hermes", groups: tuple[str, ...] = ("agents",), **kw: Any
    ) -> str:
        return self.issuer.mint(f"sub-{client_id}", client_id=client_id, groups=list(groups), **kw)

    def headers(self, token: str | None, **extra: str) -> dict[str, str]:
        out = {"Accept": ACCEPT, "Content-Type": "application/json", **extra}
        if token is not None:
            out["Authorization"] = f"Bearer {token}"
        return out

    async def modern(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        token: str | None,
        path: str = "/mcp",
        rid: Any = None,
        **extra: str,
    ) -> httpx.Response:
        self._ids += 1
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        body = {
            "jsonrpc": "2.0",
            "id": self._ids if rid is None else rid,
            "method": method,
            "params": {**(params or {}), "_meta": meta},
        }
        hdrs = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
        if method == "tools/call":
            hdrs["Mcp-Name"] = (params or {})["name"]
        hdrs.update(extra)
        return await self.http.post(path, json=body, headers=self.headers(token, **hdrs))

    async def open_session(self, token: str, path: str = "/mcp") -> str:
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": LEGACY,
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        }
        r = await self.http.post(path, json=init, headers=self.headers(token))
        assert r.status_code == 200, r.text
        sid = r.headers["mcp-session-id"]
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        hdrs = self.headers(token, **{"Mcp-Session-Id": sid, "MCP-Protocol-Version": LEGACY})
        r = await self.http.post(path, json=note, headers=hdrs)
        assert r.status_code == 202 and r.content == b""
        return sid

    async def legacy(
        self,
        sid: str,
        method: str,
        params: dict[str, Any] | None,
        *,
        token: str,
        path: str = "/mcp",
        rid: Any = "req-1",
    ) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        hdrs = self.headers(token, **{"Mcp-Session-Id": sid, "MCP-Protocol-Version": LEGACY})
        return await self.http.post(path, json=body, headers=hdrs)


@pytest.fixture
def make_mcp(tmp_path: Path) -> Callable[..., Any]:
    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[tuple[Mcp, Any]]:
        policies = tmp_path / "policies"
        if not policies.exists():
            shutil.copytree(FIXTURE_POLICIES, policies)
            (policies / "othercap.yaml").write_text(OTHERCAP_POLICY)
        settings = gateway_settings(tmp_path, policies, **overrides)
        app = create_app(settings, registry=Registry([testcap.CAPABILITY, OTHERCAP]))
        issuer = DevIssuer.from_settings(settings.auth.dev)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                yield Mcp(http, issuer), app

    return factory


@pytest.fixture
async def mcp(make_mcp: Callable[..., Any]) -> AsyncIterator[Mcp]:
    async with make_mcp() as (m, _):
        yield m


def records(app: Any) -> list[dict[str, Any]]:
    with JournalReader(app.state.runtime.settings.journal_path) as reader:
        return [json.loads(r.record) for r in reader.iter_rows() if '"kind":"call"' in r.record]


# -- auth ------------------------------------------------------------------------------------


async def test_missing_token_gets_401_with_resource_metadata(mcp: Mcp) -> None:
    r = await mcp.modern("tools/list", token=None)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp"'
    )
    r = await mcp.modern("tools/list", token=None, path="/mcp/testcap")
    assert "oauth-protected-resource/mcp/testcap" in r.headers["www-authenticate"]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # alg none
    ],
)
async def test_invalid_token_gets_401_invalid_token(mcp: Mcp, token: str) -> None:
    r = await mcp.modern("tools/list", token=token)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert "tools" not in r.text


async def test_wrong_audience_and_expired_tokens_are_refused(mcp: Mcp) -> None:
    for token in (mcp.token(audience="other-api"), mcp.token(ttl=-120)):
        r = await mcp.modern("tools/list", token=token)
        assert r.status_code == 401
        # On expiry the challenge says where to get a new token (RFC 6750 + RFC 9728).
        assert r.headers["www-authenticate"] == (
            'Bearer error="invalid_token", '
            f'resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp"'
        )


async def test_every_legacy_request_is_authenticated(mcp: Mcp) -> None:
    token = mcp.token()
    sid = await mcp.open_session(token)
    r = await mcp.legacy(sid, "tools/list", None, token="garbage")
    assert r.status_code == 401
    hdrs = mcp.headers(None, **{"Mcp-Session-Id": sid})
    assert (await mcp.http.delete("/mcp", headers=hdrs)).status_code == 401
    stream = mcp.headers(token, **{"Mcp-Session-Id": sid, "MCP-Protocol-Version": LEGACY})
    got = await mcp.http.get("/mcp", headers={**stream, "Accept": "text/event-stream"})
    assert got.status_code == 405 and "POST" in got.headers["allow"]


async def test_401_body_carries_the_documented_code(mcp: Mcp) -> None:
    for token in (None, "garbage", mcp.token(ttl=-120)):
        r = await mcp.modern("tools/list", token=token)
        assert r.status_code == 401
        assert r.json() == {
            "code": "unauthenticated",
            "message": "A valid bearer token is required.",
        }


async def test_required_scope_gives_403_insufficient_scope(make_mcp: Callable[..., Any]) -> None:
    async with make_mcp(mcp={"required_scope": "tools:read"}) as (m, _):
        r = await m.modern("tools/list", token=m.token())
        assert r.status_code == 403
        assert r.json()["code"] == "insufficient_scope"
        challenge = r.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="tools:read"' in challenge
        assert "resource_metadata=" in challenge
        ok = await m.modern("tools/list", token=m.token(scope="openid tools:read"))
        assert ok.status_code == 200


# -- Host and Origin -------------------------------------------------------------------------


async def test_any_host_when_none_configured(mcp: Mcp) -> None:
    r = await mcp.modern("tools/list", token=mcp.token(), Host="labgate.lab.example:443")
    assert r.status_code == 200


async def test_configured_hosts(make_mcp: Callable[..., Any]) -> None:
    async with make_mcp(mcp={"allowed_hosts": ["labgate.lan", "127.0.0.1:*"]}) as (m, _):
        token = m.token()
        assert (await m.modern("tools/list", token=token, Host="labgate.lan")).status_code == 200
        assert (await m.modern("tools/list", token=token)).status_code == 200
        assert (await m.modern("tools/list", token=token, Host="evil.example")).status_code == 421


async def test_port_wildcard_matches_only_a_port(make_mcp: Callable[..., Any]) -> None:
    mcp_settings = {
        "allowed_hosts": ["labgate.lan:*"],
        "allowed_origins": ["https://console.lan:*"],
    }
    async with make_mcp(mcp=mcp_settings) as (m, _):
        token = m.token()
        for host in ("labgate.lan:8443", "LABGATE.lan:80"):
            assert (await m.modern("tools/list", token=token, Host=host)).status_code == 200
        for host in (
            "labgate.lan:80.evil.example",
            "labgate.lan:",
            "labgate.lan:8443x",
            "labgate.lan.evil.example:443",  # a longer name with the same first labels
            "labgate.lan-evil:443",
            "labgate.lanx:443",
            "evil.labgate.lan:443",
            "labgate.lan",  # name:* asks for a port
        ):
            assert (await m.modern("tools/list", token=token, Host=host)).status_code == 421, host
        host = {"Host": "labgate.lan:8443"}
        good = await m.modern("tools/list", token=token, Origin="https://console.lan:8443", **host)
        assert good.status_code == 200
        for origin in (
            "https://console.lan:1.evil.example",
            "https://console.lan:",
            "https://console.lan.evil.example:8443",
            "https://console.lan-evil:8443",
            "http://console.lan:8443",
        ):
            bad = await m.modern("tools/list", token=token, Origin=origin, **host)
            assert bad.status_code == 403, origin


async def test_origin_checks(make_mcp: Callable[..., Any]) -> None:
    async with make_mcp(mcp={"allowed_origins": ["https://console.lan"]}) as (m, _):
        token = m.token()
        evil = await m.modern("tools/list", token=token, Origin="https://evil.example")
        assert evil.status_code == 403
        for origin in ("https://console.lan", BASE):
            assert (await m.modern("tools/list", token=token, Origin=origin)).status_code == 200


# -- protocol --------------------------------------------------------------------------------


async def test_transport_rules_of_the_sdk_hold(mcp: Mcp) -> None:
    token = mcp.token()
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    only_sse = {**mcp.headers(token), "Accept": "text/event-stream"}
    assert (await mcp.http.post("/mcp", json=body, headers=only_sse)).status_code == 406
    text = {**mcp.headers(token), "Content-Type": "text/plain"}
    assert (await mcp.http.post("/mcp", content=b"{}", headers=text)).status_code == 400
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    hdrs = mcp.headers(
        token, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "notifications/initialized"}
    )
    r = await mcp.http.post("/mcp", json=note, headers=hdrs)
    assert r.status_code == 202 and r.content == b""
    assert (await mcp.http.get("/mcp/", headers=mcp.headers(token))).status_code in (307, 404)


@pytest.mark.parametrize("rid", [0, "server-discover-probe-1"])
async def test_modern_discover_and_list_carry_cache_fields(mcp: Mcp, rid: Any) -> None:
    token = mcp.token()
    r = await mcp.modern("server/discover", token=token, rid=rid)
    assert r.status_code == 200
    assert r.json()["id"] == rid
    result = r.json()["result"]
    assert MODERN in result["supportedVersions"]
    assert result["resultType"] == "complete" and "ttlMs" in result and "cacheScope" in result
    listed = (await mcp.modern("tools/list", token=token, rid=rid)).json()["result"]
    assert listed["cacheScope"] == "private" and listed["ttlMs"] == 0
    assert listed["resultType"] == "complete"


async def test_modern_header_mismatch_is_rejected(mcp: Mcp) -> None:
    params = {"name": "testcap_echo", "arguments": {"text": "x"}}
    r = await mcp.modern("tools/call", params, token=mcp.token(), **{"Mcp-Name": "testcap_list"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == -32020


async def test_protocol_errors_are_jsonrpc_errors(mcp: Mcp) -> None:
    token = mcp.token()
    sid = await mcp.open_session(token)
    r = await mcp.legacy(sid, "prompts/list", None, token=token)
    assert r.json()["error"]["code"] == -32601
    r = await mcp.legacy(sid, "tools/call", {"arguments": {}}, token=token)
    assert r.json()["error"]["code"] == -32602


async def test_session_is_bound_to_its_principal(mcp: Mcp) -> None:
    owner = mcp.token()
    sid = await mcp.open_session(owner)
    intruder = mcp.token("other", groups=("readers",))
    r = await mcp.legacy(sid, "tools/list", None, token=intruder)
    assert r.status_code == 404
    r = await mcp.legacy(sid, "tools/list", None, token=mcp.token())  # same principal, new token
    assert r.status_code == 200
    hdrs = mcp.headers(owner, **{"Mcp-Session-Id": sid, "MCP-Protocol-Version": LEGACY})
    assert (await mcp.http.delete("/mcp", headers=hdrs)).status_code == 200
    r = await mcp.legacy(sid, "tools/list", None, token=owner)
    assert r.status_code == 404


# -- tools -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "groups"),
    [("hermes", ("agents",)), ("x", ("readers",)), ("cached", ()), ("nobody", ())],
)
async def test_list_equals_rest_list(mcp: Mcp, client_id: str, groups: tuple[str, ...]) -> None:
    token = mcp.token(client_id, groups)
    listed = (await mcp.modern("tools/list", token=token)).json()["result"]["tools"]
    rest = await mcp.http.get("/v1/tools", headers={"Authorization": f"Bearer {token}"})
    assert [t["name"] for t in listed] == [t["name"] for t in rest.json()["tools"]]
    for t in listed:
        assert t["annotations"]["readOnlyHint"] is True
        assert t["annotations"]["openWorldHint"] is False
        assert t["outputSchema"]["type"] == "object"


async def test_listed_descriptions_carry_the_untrusted_rule(mcp: Mcp) -> None:
    listed = (await mcp.modern("tools/list", token=mcp.token())).json()["result"]["tools"]
    noted = {t["name"] for t in listed if t["description"].endswith(UNTRUSTED_NOTE)}
    assert {"testcap_echo", "testcap_list", "testcap_slow"} <= {t["name"] for t in listed}
    assert noted == {"testcap_echo", "testcap_list"}  # the two whose answers hold upstream text


async def test_capability_mounts(make_mcp: Callable[..., Any]) -> None:
    async with make_mcp() as (m, app):
        token = m.token()
        all_tools = (await m.modern("tools/list", token=token)).json()["result"]["tools"]
        assert "othercap_ping" in {t["name"] for t in all_tools}
        other = (await m.modern("tools/list", token=token, path="/mcp/othercap")).json()
        assert [t["name"] for t in other["result"]["tools"]] == ["othercap_ping"]
        sub = (await m.modern("tools/list", token=token, path="/mcp/testcap")).json()
        assert "othercap_ping" not in {t["name"] for t in sub["result"]["tools"]}

        before = len(records(app))
        params = {"name": "othercap_ping", "arguments": {}}
        refused = await m.modern("tools/call", params, token=token, path="/mcp/testcap")
        result = refused.json()["result"]
        assert result["isError"] is True
        assert '"code":"denied"' in result["content"][0]["text"]
        served = await m.modern("tools/call", params, token=token, path="/mcp/othercap")
        assert served.json()["result"]["structuredContent"]["result"] == {"pong": True}
        added = records(app)[before:]
        assert [(r["tool"], r["decision"]) for r in added] == [
            ("othercap_ping", "deny"),
            ("othercap_ping", "allow"),
        ]
        assert added[0]["reasons"] == ["unknown-tool"] and added[0]["face"] == "mcp"


async def test_one_audit_record_per_call_whatever_the_outcome(make_mcp: Callable[..., Any]) -> None:
    async with make_mcp() as (m, app):
        token = m.token()
        sid = await m.open_session(token)
        before = len(records(app))
        await m.legacy(sid, "tools/list", None, token=token)
        calls = [
            {"name": "testcap_echo", "arguments": {"text": "a"}},
            {"name": "testcap_echo", "arguments": {"text": "a", "count": 50}},  # over policy max
            {"name": "testcap_echo", "arguments": {"bogus": 1}},
            {"name": "testcap_fail", "arguments": {"kind": "notfound"}},
            {"name": "no_such_tool"},
        ]
        for i, params in enumerate(calls):
            r = await m.legacy(sid, "tools/call", params, token=token, rid=i)
            assert r.status_code == 200 and "result" in r.json()
        added = records(app)[before:]
        assert len(added) == len(calls)
        assert [r["face"] for r in added] == ["mcp"] * len(calls)
        assert [r["decision"] for r in added] == ["allow", "deny", "deny", "error", "deny"]


async def test_mcp_disabled(make_mcp: Callable[..., Any]) -> None:
    async with make_mcp(mcp={"enabled": False}) as (m, _):
        r = await m.modern("tools/list", token=m.token())
        assert r.status_code in (404, 405)


# -- answer profiles per client ----------------------------------------------------------------

PROFILES = {"client_profiles": {"hermes": {"policy_errors": "result", "text": "summary"}}}


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


async def test_profile_answers_refusals_as_results_in_2025_sessions(
    make_mcp: Callable[..., Any],
) -> None:
    async with make_mcp(mcp=PROFILES) as (m, _):
        token = m.token()
        sid = await m.open_session(token)
        listed = (await m.legacy(sid, "tools/list", None, token=token)).json()["result"]["tools"]
        schemas = {t["name"]: t["outputSchema"] for t in listed}
        for arguments, code in (({"text": "hi", "count": 9}, "denied"), ({}, "invalid_arguments")):
            r = await m.legacy(sid, "tools/call", _call("testcap_echo", arguments), token=token)
            result = r.json()["result"]
            assert result.get("isError", False) is False
            error = result["structuredContent"]["error"]
            assert error["code"] == code and error["message"] and error["request_id"]
            assert result["content"] == [{"type": "text", "text": SUMMARY_ERROR}]
            # A client that validates structured content (Hermes' SDK does) accepts it.
            jsonschema.validate(result["structuredContent"], schemas["testcap_echo"])
        r = await m.legacy(sid, "tools/call", _call("testcap_nope", {}), token=token)
        assert r.json()["result"]["structuredContent"]["error"]["code"] == "denied"
        ok = await m.legacy(sid, "tools/call", _call("testcap_echo", {"text": "a"}), token=token)
        result = ok.json()["result"]
        assert result["content"] == [{"type": "text", "text": SUMMARY_RESULT}]
        assert result["structuredContent"]["result"]["text"] == "a"
        jsonschema.validate(result["structuredContent"], schemas["testcap_echo"])
        # An upstream failure is a failure: still isError.
        failed = await m.legacy(
            sid, "tools/call", _call("testcap_fail", {"kind": "unavailable"}), token=token
        )
        assert failed.json()["result"]["isError"] is True


async def test_profile_does_not_apply_to_2026_clients_or_other_clients(
    make_mcp: Callable[..., Any],
) -> None:
    async with make_mcp(mcp=PROFILES) as (m, _):
        modern = await m.modern(
            "tools/call", _call("testcap_echo", {"text": "hi", "count": 9}), token=m.token()
        )
        result = modern.json()["result"]
        assert result["isError"] is True and "structuredContent" not in result
        listed = await m.modern("tools/list", token=m.token())
        echo = next(t for t in listed.json()["result"]["tools"] if t["name"] == "testcap_echo")
        assert "anyOf" not in echo["outputSchema"]
        ok = await m.modern("tools/call", _call("testcap_echo", {"text": "a"}), token=m.token())
        assert (
            json.loads(ok.json()["result"]["content"][0]["text"])
            == (ok.json()["result"]["structuredContent"])
        )
        token = m.token(client_id="cached", groups=("readers",))
        sid = await m.open_session(token)
        other = await m.legacy(sid, "tools/call", _call("testcap_echo", {}), token=token)
        assert other.json()["result"]["isError"] is True
