"""Identity checks: discovery and JWKS fetched, issuer byte-exact, clients agree with policies.

The provider is asked the way the gateway asks it: through gateway.upstream (the same
egress as :mod:`gateway.auth.jwks`: origin pinned, deadline, body cap, no redirects).
"""

from __future__ import annotations

import httpx

from gateway.auth.egress import IdpEgress
from gateway.auth.jwks import discovery_url, jwks_egress
from gateway.auth.keys import KeyRing, key_fits_alg
from gateway.auth.settings import AuthSettings, OidcSettings
from gateway.errors import UpstreamFailure, UpstreamTimeout, UpstreamUnavailable
from gateway.policy.policyset import PolicySet

from .report import Section

__all__ = ["check_identity", "policy_clients"]


class _Problem(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def policy_clients(policies: PolicySet | None) -> set[str]:
    """Every client id an allow rule names in ``who.clients``."""
    found: set[str] = set()
    for policy in policies.capabilities.values() if policies else ():
        for rule in policy.rules:
            if rule.effect == "allow" and rule.who is not None and rule.who.clients:
                found.update(rule.who.clients)
    return found


async def check_identity(
    auth: AuthSettings,
    policies: PolicySet | None,
    out: Section,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """``transport`` replaces the network under the guarded clients (tests)."""
    clients = policy_clients(policies)
    if auth.mode == "dev":
        out.add("warn", "auth.mode", "dev-mode", "dev tokens from a local key: demo only")
        return
    if auth.mode == "forward_auth":
        fwd = auth.forward_auth
        accepted = {fwd.client_id} if fwd is not None and fwd.client_id else set()
        _check_clients(accepted, clients, out)
        return
    if auth.oidc is None:
        out.add("fail", "auth.oidc", "config-invalid", "auth.mode is oidc without an oidc section")
        return
    egress = jwks_egress(auth.oidc, transport=transport)
    try:
        await _check_provider(auth.oidc, egress, out)
    finally:
        await egress.aclose()
    _check_clients(set(auth.oidc.allowed_clients), clients, out)
    _check_audience(auth.oidc, clients, out)


async def _check_provider(oidc: OidcSettings, client: IdpEgress, out: Section) -> None:
    jwks_url = oidc.jwks_url
    url = discovery_url(oidc.issuer)
    try:
        if jwks_url is None:
            document = await _get_json(client, url)
            jwks_url = _check_discovery(oidc.issuer, document)
            out.add("ok", "auth.oidc.issuer", "ok", f"discovery names {oidc.issuer!r}")
        ring = KeyRing.from_jwks(await _get_json(client, jwks_url))
    except _Problem as exc:
        out.add("fail", "auth.oidc.issuer", exc.code, str(exc))
        return
    except ValueError:
        out.add("fail", "auth.oidc.jwks", "unexpected-shape", f"{jwks_url} is not a JWK Set")
        return
    keys = [*ring.by_kid.values(), *ring.unnamed]
    fitting = [k for k in keys if any(key_fits_alg(k, a) for a in oidc.algorithms)]
    if not fitting:
        message = (
            f"{jwks_url}: {len(keys)} keys, none for {', '.join(oidc.algorithms)}; "
            "select a signing key on the provider"
        )
        out.add("fail", "auth.oidc.jwks", "jwks-empty", message)
        return
    out.add("ok", "auth.oidc.jwks", "ok", f"{jwks_url}: {len(fitting)} usable signing keys")


def _check_discovery(issuer: str, document: object) -> str:
    if not isinstance(document, dict):
        raise _Problem("unexpected-shape", "the discovery document is not a JSON object")
    named = document.get("issuer")
    if named != issuer:
        raise _Problem(
            "issuer-mismatch",
            f"discovery names issuer {named!r}, auth.oidc.issuer is {issuer!r}: "
            "they must match byte for byte (trailing slash, host name)",
        )
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise _Problem("unexpected-shape", "the discovery document has no jwks_uri")
    return jwks_uri


async def _get_json(egress: IdpEgress, url: str) -> object:
    try:
        response = await egress.client(url).get(url, headers={"accept": "application/json"})
    except (UpstreamUnavailable, UpstreamTimeout) as exc:
        raise _Problem("unreachable", f"{url}: {exc.code}") from None
    except UpstreamFailure as exc:  # 5xx, redirect, over the size cap
        raise _Problem("unexpected-shape", f"{url}: {exc.internal or exc.code}") from None
    if response.status_code != 200:
        hint = " (wrong application slug?)" if response.status_code == 404 else ""
        raise _Problem("unexpected-shape", f"{url}: HTTP {response.status_code}{hint}")
    try:
        return response.json()
    except ValueError:
        raise _Problem("unexpected-shape", f"{url}: not JSON") from None


def _check_clients(accepted: set[str], named: set[str], out: Section) -> None:
    """``accepted``: clients auth lets in (empty: any); ``named``: clients policies name."""
    if not named:
        out.add("warn", "policies", "client-unused", "no allow rule names a client")
    for client in sorted(named):
        if accepted and client not in accepted:
            out.add(
                "fail",
                f"client {client}",
                "client-refused",
                f"policies name client {client!r}, but auth accepts only {sorted(accepted)}",
            )
        else:
            out.add("ok", f"client {client}", "ok", "accepted by auth and named by policies")
    for client in sorted(accepted - named):
        out.add(
            "warn",
            f"client {client}",
            "client-unused",
            f"auth accepts client {client!r}, but no policy rule names it: it gets no tools",
        )


def _check_audience(oidc: OidcSettings, named: set[str], out: Section) -> None:
    if named and not set(oidc.audience) & named:
        out.add(
            "warn",
            "auth.oidc.audience",
            "audience-not-client",
            f"audience {oidc.audience} names no client of the policies ({sorted(named)}); "
            "Authentik sets aud to the provider's client id",
        )
    else:
        out.add("ok", "auth.oidc.audience", "ok", f"audience {oidc.audience}")
