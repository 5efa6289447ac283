"""Hermes Agent 0.19's own OAuth code against a live labgate: one login at set-up
(``hermes mcp login`` on a terminal, the test signing in on the identity provider's page), then
no human through token expiry, restarts and clock skew; the limit of Hermes 0.19 on an
unexpected 401; and Hermes logging in to ``labgate demo`` as its banner says.

The identity provider is the test's oidc-provider process (tests/support/oidc.py) with
two-second access tokens, so a simulated day of expiries takes seconds.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.hermes import HermesDriver, docs_snippet, hermes_login, write_config
from tests.support.hermes_gateway import DOCS_URL, REPO, Gateway, handed, start_gateway
from tests.support.net import free_port, stop_process
from tests.support.oidc import CLIENTS, OidcProvider, start_oidc_provider

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
        while True:  # until it answers or exits: no deadline on a loaded machine
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
