"""``labgate doctor``'s identity checks against the tests' OIDC provider (Authentik's layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from gateway.doctor.report import EXIT_FAILED, EXIT_OK, Report
from gateway.doctor.runner import run_doctor
from tests.support.net import free_port
from tests.support.oidc import OidcProvider

from .deployment import deployment

POLICY = """\
capability: testcap
rules:
  - id: hermes-echo
    who: {clients: [hermes], groups: [agents]}
    tools: [testcap_echo]
"""


def _settings(issuer: str, **oidc: Any) -> dict[str, Any]:
    return {
        "extra_capabilities": ["tests.support.testcap:CAPABILITY"],
        "auth": {
            "mode": "oidc",
            "oidc": {
                "issuer": issuer,
                "audience": ["hermes"],
                "allowed_clients": ["hermes"],
                "algorithms": ["RS256"],
                **oidc,
            },
        },
    }


async def _doctor(tmp_path: Path, settings: dict[str, Any], **kw: Any) -> Report:
    return await run_doctor(deployment(tmp_path, settings, {"testcap": POLICY}), **kw)


def _identity(report: Report) -> list[tuple[str, str, str]]:
    section = next(s for s in report.sections if s.title == "identity")
    return [(f.status, f.subject, f.code) for f in section.findings]


async def test_discovery_jwks_and_clients_agree(
    tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    report = await _doctor(tmp_path, _settings(oidc_provider.issuer))
    assert _identity(report) == [
        ("ok", "auth.oidc.issuer", "ok"),
        ("ok", "auth.oidc.jwks", "ok"),
        ("ok", "client hermes", "ok"),
        ("ok", "auth.oidc.audience", "ok"),
    ]
    assert report.exit_code(strict=True) == EXIT_OK


async def test_issuer_without_its_trailing_slash_is_a_mismatch(
    tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    report = await _doctor(tmp_path, _settings(oidc_provider.issuer.rstrip("/")))
    found = _identity(report)
    assert ("fail", "auth.oidc.issuer", "issuer-mismatch") in found
    assert oidc_provider.issuer in report.as_text()  # what discovery says, to copy
    assert report.exit_code() == EXIT_FAILED


async def test_a_wrong_application_slug_is_reported(
    tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.issuer.replace("/hermes/", "/no-such-app/")
    report = await _doctor(tmp_path, _settings(issuer))
    assert ("fail", "auth.oidc.issuer", "unexpected-shape") in _identity(report)
    assert "HTTP 404" in report.as_text() and "slug" in report.as_text()


async def test_nothing_listening_is_unreachable(tmp_path: Path) -> None:
    issuer = f"http://127.0.0.1:{free_port()}/application/o/hermes/"
    report = await _doctor(tmp_path, _settings(issuer))
    assert ("fail", "auth.oidc.issuer", "unreachable") in _identity(report)


async def test_the_example_client_id_gives_hermes_no_tools(
    tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    # The bug operators hit: auth accepts client "labgate" while the policies name "hermes".
    settings = _settings(oidc_provider.issuer, audience=["labgate"], allowed_clients=["labgate"])
    found = _identity(await _doctor(tmp_path, settings))
    assert ("fail", "client hermes", "client-refused") in found
    assert ("warn", "client labgate", "client-unused") in found
    assert ("warn", "auth.oidc.audience", "audience-not-client") in found


async def test_an_empty_jwks_is_reported(tmp_path: Path, oidc_provider: OidcProvider) -> None:
    # Authentik without a signing key publishes an empty JWKS (and signs with HS256).
    def provider(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            doc = {"issuer": oidc_provider.issuer, "jwks_uri": oidc_provider.jwks_url}
            return httpx.Response(200, json=doc)
        return httpx.Response(200, json={"keys": []})

    transport = httpx.MockTransport(provider)  # under the gateway's guarded clients
    report = await _doctor(tmp_path, _settings(oidc_provider.issuer), idp_transport=transport)
    assert ("fail", "auth.oidc.jwks", "jwks-empty") in _identity(report)


async def test_dev_mode_is_a_warning(tmp_path: Path) -> None:
    settings = {"extra_capabilities": ["tests.support.testcap:CAPABILITY"]}
    report = await _doctor(tmp_path, settings)
    assert _identity(report) == [("warn", "auth.mode", "dev-mode")]
    assert report.exit_code() == EXIT_OK
    assert report.exit_code(strict=True) == EXIT_FAILED
