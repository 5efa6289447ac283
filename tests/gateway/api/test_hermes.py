"""Hermes Agent 0.19's own MCP client against a live labgate, no LLM: discovery, names,
schemas, calls, refusals and its circuit breaker, what each call hands the model.

Hermes runs in its own virtualenv (tests/support/install_hermes.sh) and is driven through
tests/support/hermes_driver.py; labgate runs under uvicorn (tests/support/hermes_gateway.py)
with tokens from the OIDC provider process; the Hermes configs are the snippets of
docs/hermes.md. OAuth and the demo: test_hermes_oauth.py.

Servers in one Hermes: ``labgate`` (client ``hermes``, which has the profile
``{policy_errors: result, text: summary}``), ``plain`` and ``measure`` (client
``other-agent``, no profile: the MCP default), so each behaviour is shown beside the one it
replaces, and ``lab-astro`` (the per-capability snippet).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.hermes import HermesDriver, docs_snippet, write_config
from tests.support.hermes_gateway import DOCS_URL, Gateway, handed, start_gateway
from tests.support.net import stop_process
from tests.support.oidc import OidcProvider


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
