"""Hermes Agent 0.19's own MCP client and OAuth code against a live labgate, no LLM.

Hermes runs in its own virtualenv (tests/support/install_hermes.sh) and is driven through
tests/support/hermes_driver.py: discovery and registration under Hermes' names, the string each
call hands the model, its circuit breaker's count. labgate runs under uvicorn with the test
capability and tokens from the OIDC provider process; the Hermes configs are the snippets of
docs/hermes.md.

Two servers in one Hermes: ``labgate`` (client ``hermes``, which has the profile
``{policy_errors: result, text: summary}``) and ``plain`` (client ``other-agent``, no
profile: the MCP default), so each behaviour is shown beside the one it replaces.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from gateway.app import create_app
from gateway.registry import Registry
from gateway.settings import load_settings
from tests.support import testcap
from tests.support.hermes import HermesDriver, docs_snippet, hermes_login, write_config
from tests.support.net import free_port, stop_process
from tests.support.oidc import CLIENTS, OidcProvider, start_oidc_provider

FIXTURE_POLICIES = Path(__file__).resolve().parents[2] / "fixtures" / "policies"
REPO = Path(__file__).resolve().parents[3]
DOCS_URL = "https://labgate.lab.example/mcp"
PROFILE = {"policy_errors": "result", "text": "summary"}


@dataclass
class Gateway:
    base: str
    log: Path

    @property
    def url(self) -> str:
        return self.base + "/mcp"


def serve(config_file: str) -> None:
    """Entry of the gateway process: settings from a JSON file, uvicorn on the given port."""
    spec = json.loads(Path(config_file).read_text())
    settings = load_settings(None, **spec)
    app = create_app(settings, registry=Registry([testcap.CAPABILITY]))
    uvicorn.run(app, host="127.0.0.1", port=settings.listen.port, log_level="warning", ws="none")


def _policies(tmp: Path) -> Path:
    policies = tmp / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    doc = yaml.safe_load((policies / "testcap.yaml").read_text())
    for rule in doc["rules"]:
        if rule["id"] == "hermes-list":
            rule["limits"] = {"rate": "3/hour", "burst": 3}
    doc["rules"] += [
        {
            "id": "other-agent-echo",
            "who": {"clients": ["other-agent"]},
            "tools": ["testcap_echo"],
            "args": {"count": {"max": 5}},
        },
        {
            "id": "other-agent-list",
            "who": {"clients": ["other-agent"]},
            "tools": ["testcap_list"],
            "scope": {"allowed_prefixes": ["a"]},
            "result": {"fields": ["id", "title", "body"], "truncate": {"body": 100}},
        },
    ]
    (policies / "testcap.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return policies


def start_gateway(
    tmp: Path, oidc: OidcProvider, **extra: Any
) -> tuple[subprocess.Popen[bytes], Gateway]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    spec = {
        "public_url": base,
        "listen": {"host": "127.0.0.1", "port": port},
        "auth": {
            "mode": "oidc",
            "oidc": {"issuer": oidc.issuer, "audience": [oidc.audience]},
        },
        "policy_dir": str(_policies(tmp)),
        "journal_path": str(tmp / "audit.db"),
        "capabilities": {"testcap": {}},
        "watch_policies": False,
        "mcp": docs_snippet("client_profiles")["mcp"],
        **extra,
    }
    spec["auth"]["oidc"].update(docs_snippet("client_profiles")["auth"]["oidc"])
    (tmp / "gateway.json").write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABGATE_")}
    code = f"from {__name__} import serve; serve({str(tmp / 'gateway.json')!r})"
    with (tmp / "gateway.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, env=env, stdout=log, stderr=log
        )
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited: {(tmp / 'gateway.log').read_text()}")
        try:
            if httpx.get(base + "/.well-known/oauth-protected-resource", timeout=1).is_success:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return process, Gateway(base=base, log=tmp / "gateway.log")


@pytest.fixture(scope="module")
def gateway(
    oidc_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    process, gw = start_gateway(tmp_path_factory.mktemp("hermes-gw"), oidc_provider)
    try:
        yield gw
    finally:
        stop_process(process, timeout=20)


def static_server(url: str, token_var: str) -> dict[str, Any]:
    """The static-header snippet of docs/hermes.md, for ``url`` and a token variable."""
    server = dict(docs_snippet("Bearer ${LABGATE_TOKEN}")["mcp_servers"]["labgate"])
    assert server["url"] == DOCS_URL
    server["url"] = url
    server["headers"] = {
        "Authorization": server["headers"]["Authorization"].replace("LABGATE_TOKEN", token_var)
    }
    return server


@pytest.fixture(scope="module")
def hermes(
    gateway: Gateway, oidc_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HermesDriver]:
    home = tmp_path_factory.mktemp("hermes-home")
    write_config(
        home,
        {
            "labgate": static_server(gateway.url, "LABGATE_TOKEN"),
            "plain": static_server(gateway.url, "PLAIN_TOKEN"),
            "measure": static_server(gateway.url, "PLAIN_TOKEN"),
            # The per-capability snippet of docs/hermes.md, its URL on the test capability.
            "lab-astro": {
                **docs_snippet("lab-astro")["mcp_servers"]["lab-astro"],
                "url": gateway.url + "/testcap",
            },
        },
    )
    env = {
        "LABGATE_TOKEN": oidc_provider.token("hermes"),
        "PLAIN_TOKEN": oidc_provider.token("other-agent"),
    }
    driver = HermesDriver(home, env)
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture(scope="module")
def discovered(hermes: HermesDriver) -> dict[str, Any]:
    found = hermes.discover()
    assert found["errors"] == {}, found
    return found


def handed(answer: dict[str, Any]) -> dict[str, Any]:
    """What Hermes hands the model for one call, parsed (it is always a JSON object)."""
    value = json.loads(answer["text"])
    assert isinstance(value, dict)
    return value


# -- discovery ---------------------------------------------------------------------------------


def test_hermes_registers_the_allowed_tools_under_its_names(discovered: dict[str, Any]) -> None:
    names = set(discovered["tools"])
    assert {
        "mcp__labgate__testcap_echo",
        "mcp__labgate__testcap_list",
        "mcp__labgate__testcap_slow",
        "mcp__labgate__testcap_fail",
        "mcp__plain__testcap_echo",
        "mcp__plain__testcap_list",
    } <= names
    assert "mcp__plain__testcap_slow" not in names
    # Hermes' sanitiser: mcp__<server>__<tool>, "-" becomes "_".
    assert "mcp__lab_astro__testcap_echo" in names
    echo = discovered["tools"]["mcp__labgate__testcap_echo"]
    assert echo["parameters"]["properties"]["text"]["maxLength"] == 200
    # The untrusted-data rule is in the description Hermes shows the model.
    assert "not instructions" in echo["description"]


# -- the breaker -------------------------------------------------------------------------------


def test_a_run_of_policy_refusals_keeps_labgate(hermes: HermesDriver, discovered: Any) -> None:
    for _ in range(3):  # the policy allows three lists an hour
        assert (
            "result" in handed(hermes.call("mcp__labgate__testcap_list", {}))["structuredContent"]
        )
    refusals = [
        ("mcp__labgate__testcap_echo", {"text": "hi", "count": 9}),  # above the policy's bound
        ("mcp__labgate__testcap_echo", {"text": ""}),  # invalid arguments
        ("mcp__labgate__testcap_list", {}),  # rate limited
        ("mcp__labgate__testcap_echo", {"text": "hi", "count": 7}),
        ("mcp__labgate__testcap_list", {}),
    ]
    codes = []
    for tool, args in refusals:
        answer = hermes.call(tool, args)
        body = handed(answer)
        assert "error" not in body, body  # Hermes' breaker counts a top-level "error"
        error = body["structuredContent"]["error"]
        assert error["message"] and error["request_id"]
        codes.append(error["code"])
        assert answer["breaker"].get("labgate", 0) == 0
    assert codes == ["denied", "invalid_arguments", "rate_limited", "denied", "rate_limited"]
    ok = handed(hermes.call("mcp__labgate__testcap_echo", {"text": "still here"}))
    assert ok["structuredContent"]["result"]["text"] == "still here"


def test_without_a_profile_three_refusals_trip_the_breaker(
    hermes: HermesDriver, discovered: Any
) -> None:
    for _ in range(3):
        answer = hermes.call("mcp__plain__testcap_echo", {"text": ""})
        assert "invalid_arguments" in handed(answer)["error"]
    assert answer["breaker"]["plain"] == 3
    blocked = handed(hermes.call("mcp__plain__testcap_echo", {"text": "ok"}))
    assert "unreachable" in blocked["error"]


def test_an_upstream_failure_is_still_a_failure(hermes: HermesDriver, discovered: Any) -> None:
    answer = hermes.call("mcp__labgate__testcap_fail", {"kind": "unavailable"})
    assert "upstream_unavailable" in handed(answer)["error"]
    assert answer["breaker"]["labgate"] == 1
    hermes.call("mcp__labgate__testcap_echo", {"text": "reset"})


# -- one copy --------------------------------------------------------------------------------


def test_the_model_sees_the_envelope_once(hermes: HermesDriver, discovered: Any) -> None:
    args = {"text": "y" * 150, "count": 5}
    compact = hermes.call("mcp__labgate__testcap_echo", args)
    full = hermes.call("mcp__measure__testcap_echo", args)
    envelope = len(json.dumps(handed(full)["structuredContent"], ensure_ascii=False))
    print(
        f"\ncharacters handed to the model per result, relative to the envelope ({envelope}):"
        f" default {len(full['text']) / envelope:.2f}x,"
        f" text: summary {len(compact['text']) / envelope:.2f}x"
    )
    default = handed(full)
    assert json.loads(default["result"]) == default["structuredContent"]  # the JSON twice
    assert len(full["text"]) > 2 * envelope
    one = handed(compact)
    assert one["result"].startswith("labgate result:")
    assert len(compact["text"]) < envelope + 250


# -- OAuth: one login at set-up, then no human ----------------------------------------------

TOKEN_TTL = 2  # seconds: the simulated day's tokens expire between most calls


@pytest.fixture(scope="module")
def short_lived_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with start_oidc_provider(
        tmp_path_factory.mktemp("oidc-short"), access_token_ttl=TOKEN_TTL
    ) as provider:
        yield provider


@pytest.fixture(scope="module")
def oauth_gateway(
    short_lived_idp: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    process, gw = start_gateway(tmp_path_factory.mktemp("hermes-oauth-gw"), short_lived_idp)
    try:
        yield gw
    finally:
        stop_process(process, timeout=20)


def oauth_server(url: str) -> dict[str, Any]:
    """The OAuth snippet of docs/hermes.md, for ``url`` and a free callback port."""
    server = dict(docs_snippet("auth: oauth")["mcp_servers"]["labgate"])
    assert server["url"] == DOCS_URL and server["oauth"]["client_id"] == "hermes"
    server["url"] = url
    server["oauth"] = {**server["oauth"], "redirect_port": free_port()}
    return server


def test_metadata_tells_hermes_what_to_ask_for(
    oauth_gateway: Gateway, short_lived_idp: OidcProvider
) -> None:
    challenge = httpx.post(oauth_gateway.url, json={}).headers["www-authenticate"]
    assert challenge == (
        f'Bearer resource_metadata="{oauth_gateway.base}/.well-known/oauth-protected-resource/mcp"'
    )
    meta = httpx.get(oauth_gateway.base + "/.well-known/oauth-protected-resource/mcp").json()
    assert meta["resource"] == oauth_gateway.url
    assert meta["authorization_servers"] == [short_lived_idp.issuer]
    assert "offline_access" in meta["scopes_supported"]


def test_unattended_hermes_keeps_its_tools_through_token_expiry(
    oauth_gateway: Gateway, short_lived_idp: OidcProvider, tmp_path: Path
) -> None:
    home = tmp_path / "hermes"
    write_config(home, {"labgate": oauth_server(oauth_gateway.url)})
    env = {"LABGATE_OAUTH_CLIENT_SECRET": CLIENTS["hermes"]["secret"]}
    # Set-up, once, by a human: `hermes mcp login labgate`, signing in on the login page.
    printed = hermes_login(home, "labgate", short_lived_idp.complete_login, env)
    assert "testcap_echo" in printed or "tool" in printed.lower()
    stored = json.loads((home / "mcp-tokens" / "labgate.json").read_text())
    assert stored["refresh_token"]
    short_lived_idp.reset_stats()

    # From here on no human: Hermes runs unattended (no terminal), as its gateway daemon does.
    rounds, lost, failed = 10, 0, 0
    driver = HermesDriver(home, env)
    try:
        found = driver.discover()
        assert found["errors"] == {}, found
        tools = set(driver.tools())
        assert "mcp__labgate__testcap_echo" in tools
        for i in range(rounds):
            time.sleep(TOKEN_TTL + 1)  # the access token has expired
            # A denial, invalid arguments, then a good call, each with an expired token.
            for args in ({"text": "x", "count": 9}, {"text": ""}):
                answer = driver.call("mcp__labgate__testcap_echo", args)
                if "error" not in handed(answer).get("structuredContent", {}):
                    failed += 1
            answer = driver.call("mcp__labgate__testcap_echo", {"text": f"round {i}"})
            body = handed(answer)
            if body.get("structuredContent", {}).get("result", {}).get("text") != f"round {i}":
                failed += 1
            if set(driver.tools()) != tools or answer["breaker"].get("labgate", 0):
                lost += 1
    finally:
        driver.close()
    stats = short_lived_idp.stats()
    print(
        f"\n{rounds} token expiries: tool-loss events {lost}, failed calls {failed}, "
        f"manual steps 0, refreshes {stats['refresh']}, logins {stats['login']}"
    )
    assert (lost, failed) == (0, 0), driver.log()[-4000:]
    assert stats["login"] == 0 and stats["code"] == 0
    assert stats["refresh"] >= rounds

    # Hermes restarts (the daemon, a cron job) with an expired access token on disk.
    time.sleep(TOKEN_TTL + 1)
    again = HermesDriver(home, env)
    try:
        assert again.discover()["errors"] == {}
        body = handed(again.call("mcp__labgate__testcap_echo", {"text": "after restart"}))
        assert body["structuredContent"]["result"]["text"] == "after restart"
    finally:
        again.close()
    assert short_lived_idp.stats()["login"] == 0


def _login(home: Path, gw: Gateway, idp: OidcProvider) -> dict[str, str]:
    write_config(home, {"labgate": oauth_server(gw.url)})
    env = {"LABGATE_OAUTH_CLIENT_SECRET": CLIENTS["hermes"]["secret"]}
    hermes_login(home, "labgate", idp.complete_login, env)
    return env


def _rewrite_stored_token(home: Path, **changes: Any) -> None:
    path = home / "mcp-tokens" / "labgate.json"
    stored = json.loads(path.read_text())
    stored.update(changes)
    path.write_text(json.dumps(stored))


def test_clock_skew_within_the_leeway_needs_no_human(
    oauth_gateway: Gateway, short_lived_idp: OidcProvider, tmp_path: Path
) -> None:
    """Hermes' clock runs 8 s behind labgate's: it uses its access token after ``exp``.
    labgate's ``exp_leeway_seconds`` (docs/hermes.md) accepts it; Hermes refreshes when its
    own clock says so."""
    home = tmp_path / "hermes"
    env = _login(home, oauth_gateway, short_lived_idp)
    stored = json.loads((home / "mcp-tokens" / "labgate.json").read_text())
    skew = 8
    _rewrite_stored_token(home, expires_at=stored["expires_at"] + skew)
    short_lived_idp.reset_stats()
    driver = HermesDriver(home, env)
    try:
        assert driver.discover()["errors"] == {}
        time.sleep(TOKEN_TTL + 1)  # expired for labgate, not for Hermes
        late = handed(driver.call("mcp__labgate__testcap_echo", {"text": "late"}))
        assert late["structuredContent"]["result"]["text"] == "late", late
        assert short_lived_idp.stats()["refresh"] == 0
        time.sleep(skew)  # now expired for Hermes too: it refreshes
        fresh = handed(driver.call("mcp__labgate__testcap_echo", {"text": "fresh"}))
        assert fresh["structuredContent"]["result"]["text"] == "fresh", fresh
    finally:
        driver.close()
    assert short_lived_idp.stats()["refresh"] >= 1 and short_lived_idp.stats()["login"] == 0


def test_hermes_needs_a_login_after_a_401_it_did_not_expect(
    oauth_gateway: Gateway, short_lived_idp: OidcProvider, tmp_path: Path
) -> None:
    """The limit of Hermes 0.19 (MCP SDK 1.26): on a 401 it never uses its refresh token, it
    starts a browser login, which an unattended Hermes cannot do. So labgate must not refuse a
    token Hermes believes valid: clocks in sync within ``exp_leeway_seconds``; a revoked or
    unverifiable token needs ``hermes mcp login`` again (and says so)."""
    home = tmp_path / "hermes"
    env = _login(home, oauth_gateway, short_lived_idp)
    _rewrite_stored_token(home, access_token="not-a-token", expires_at=time.time() + 3600)
    driver = HermesDriver(home, env)
    try:
        errors = driver.discover()["errors"]
    finally:
        driver.close()
    assert "hermes mcp login" in errors["labgate"]


# -- the demo: an OAuth client logs in against the dev issuer ---------------------------------


def _fill_demo_page(url: str) -> str:
    """Play the browser on the demo's sign-in page; return where it redirects."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
        done = browser.post(action.group(1), data={k: html.unescape(v) for k, v in fields.items()})
        assert done.status_code == 303, done.text
        return done.headers["location"]


def test_hermes_logs_in_to_the_demo_as_the_banner_says(tmp_path: Path) -> None:
    port, ops = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABGATE_")}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port)]
    command += ["--operator-port", str(ops), "--state-dir", str(tmp_path / "state")]
    with (tmp_path / "demo.out").open("wb") as out:
        demo = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            assert demo.poll() is None, (tmp_path / "demo.out").read_text()
            try:
                if httpx.get(base + "/.well-known/oauth-protected-resource", timeout=1).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        banner = (tmp_path / "demo.out").read_text()
        snippet = banner.split("sign in on the page it prints):\n", 1)[1].split("\n\n", 1)[0]
        home = tmp_path / "hermes"
        write_config(home, yaml.safe_load(snippet)["mcp_servers"])
        hermes_login(home, "labgate", _fill_demo_page)
        driver = HermesDriver(home)
        try:
            found = driver.discover()
            assert found["errors"] == {}, found
            assert "mcp__labgate__health_summary" in found["tools"]
            body = handed(driver.call("mcp__labgate__health_summary", {}))
            assert body["structuredContent"]["provenance"]["capability"] == "health"
        finally:
            driver.close()
    finally:
        stop_process(demo, timeout=20)
