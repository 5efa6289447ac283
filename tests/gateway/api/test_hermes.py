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

import json
import os
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
from tests.support.hermes import HermesDriver, docs_snippet, write_config
from tests.support.net import free_port, stop_process
from tests.support.oidc import OidcProvider

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
