"""The dev issuer as an OAuth authorization server, so MCP clients can log in to the demo.

Served only in ``auth.mode: dev`` (which refuses any non-loopback bind), under the dev issuer's
path (``<agent base>/dev/`` in ``labgate demo``): RFC 8414 metadata, a one-button login page,
authorization code with PKCE (S256 only) to loopback redirect URIs only, refresh tokens
(rotated on use), dynamic registration that always answers the demo's one client ``hermes``,
and the JWKS. Tokens are minted by the same :class:`DevIssuer` as ``labgate token``: client
``hermes``, group ``agents``, one hour. State lives in memory: a restart forgets every code and
refresh token.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gateway.auth.dev import DevIssuer
from gateway.settings import Settings

__all__ = ["DEMO_CLIENT", "DevLogin", "add_dev_login_routes"]

#: The one client the demo's policies know.
DEMO_CLIENT = "hermes"
DEMO_SUBJECT = "demo-operator"
ACCESS_TTL = 3600
CODE_TTL = 120.0
REFRESH_TTL = 14 * 24 * 3600.0
_MAX_FORM_BYTES = 16 * 1024
_MAX_PENDING = 1000
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires: float


def _loopback_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK and not parts.fragment


def _error(code: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items() if len(v) == 1}


class DevLogin:
    """The authorization server of one dev issuer (codes and refresh tokens in memory)."""

    def __init__(self, issuer: DevIssuer, *, clock: Any = time.monotonic) -> None:
        self.issuer = issuer
        self.base = issuer.issuer.rstrip("/")
        self._clock = clock
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, tuple[str, str, float]] = {}

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer.issuer,
            "authorization_endpoint": self.base + "/authorize",
            "token_endpoint": self.base + "/token",
            "registration_endpoint": self.base + "/register",
            "jwks_uri": self.base + "/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "offline_access"],
        }

    def _prune(self) -> None:
        now = self._clock()
        self._codes = {k: g for k, g in self._codes.items() if g.expires > now}
        self._refresh = {k: v for k, v in self._refresh.items() if v[2] > now}

    def _check_request(self, params: dict[str, str]) -> str | None:
        """Why an authorization request is refused (shown on the page), or None."""
        if params.get("response_type") != "code":
            return "response_type must be code."
        if params.get("client_id") != DEMO_CLIENT:
            return f"The demo knows one client: {DEMO_CLIENT}."
        if not _loopback_redirect(params.get("redirect_uri", "")):
            return "redirect_uri must be an http URI on the loopback (127.0.0.1, localhost)."
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required."
        return None

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            params = dict(request.query_params)
        else:
            params = await _form(request)
        refused = self._check_request(params)
        if refused is not None:
            return HTMLResponse(_page("Cannot sign in", f"<p>{html.escape(refused)}</p>"), 400)
        if request.method == "GET":
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items()
            )
            body = (
                f"<p>Sign in to the labgate demo as client <b>{DEMO_CLIENT}</b>, "
                f"group <b>agents</b>, subject <b>{DEMO_SUBJECT}</b>.</p>"
                f'<form method="post" action="{html.escape(self.base)}/authorize">{hidden}'
                '<button type="submit">Sign in</button></form>'
            )
            return HTMLResponse(_page("labgate demo sign-in", body))
        self._prune()
        if len(self._codes) >= _MAX_PENDING:
            return HTMLResponse(_page("Busy", "<p>Too many pending logins.</p>"), 503)
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Grant(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            challenge=params["code_challenge"],
            scope=params.get("scope", ""),
            expires=self._clock() + CODE_TTL,
        )
        answer = {"code": code, "iss": self.issuer.issuer}
        if "state" in params:
            answer["state"] = params["state"]
        separator = "&" if urlsplit(params["redirect_uri"]).query else "?"
        return RedirectResponse(params["redirect_uri"] + separator + urlencode(answer), 303)

    def _tokens(self, scope: str) -> JSONResponse:
        access = self.issuer.mint(
            DEMO_SUBJECT,
            client_id=DEMO_CLIENT,
            groups=["agents"],
            ttl=ACCESS_TTL,
            username=DEMO_SUBJECT,
        )
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL,
            "scope": scope,
        }
        if "offline_access" in scope.split():
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = (DEMO_CLIENT, scope, self._clock() + REFRESH_TTL)
            body["refresh_token"] = refresh
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def token(self, request: Request) -> Response:
        form = await _form(request)
        self._prune()
        if form.get("client_id", DEMO_CLIENT) != DEMO_CLIENT:
            return _error("invalid_client", "Unknown client.", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                grant is None
                or grant.redirect_uri != form.get("redirect_uri")
                or not secrets.compare_digest(challenge, grant.challenge)
            ):
                return _error("invalid_grant", "The code is unknown, used, expired or not yours.")
            return self._tokens(grant.scope)
        if grant_type == "refresh_token":
            held = self._refresh.pop(form.get("refresh_token", ""), None)
            if held is None:
                return _error("invalid_grant", "The refresh token is unknown or expired.")
            return self._tokens(held[1])
        return _error("unsupported_grant_type", "authorization_code or refresh_token.")

    async def register(self, request: Request) -> Response:
        try:
            asked = json.loads(await request.body() or b"{}")
        except ValueError:
            return _error("invalid_client_metadata", "The body is not JSON.")
        uris = asked.get("redirect_uris") if isinstance(asked, dict) else None
        if (
            not isinstance(uris, list)
            or not uris
            or not all(isinstance(u, str) and _loopback_redirect(u) for u in uris)
        ):
            return _error("invalid_redirect_uri", "Loopback http redirect URIs only.")
        return JSONResponse(
            {
                "client_id": DEMO_CLIENT,
                "redirect_uris": uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            },
            status_code=201,
        )


def _page(title: str, body: str) -> str:
    return f"<!DOCTYPE html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{body}"


def add_dev_login_routes(app: FastAPI, settings: Settings) -> None:
    """Serve the dev issuer's OAuth endpoints, when the issuer is on this listener's origin."""
    base = settings.agent_base_url()
    issuer_url = settings.auth.dev.issuer
    dev = settings.auth.dev
    if settings.auth.mode != "dev" or dev.key_file is None or not issuer_url.startswith(base + "/"):
        return  # the key must be the one the verifier reads (a file), the issuer on this origin
    login = DevLogin(DevIssuer.from_settings(settings.auth.dev))
    path = urlsplit(issuer_url).path.rstrip("/")

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse(login.metadata())

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(login.issuer.jwks())

    for meta_path in (
        f"/.well-known/oauth-authorization-server{path}",
        f"{path}/.well-known/oauth-authorization-server",
        f"{path}/.well-known/openid-configuration",
    ):
        app.add_api_route(meta_path, metadata, methods=["GET"], include_in_schema=False)
    app.add_api_route(path + "/jwks", jwks, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        path + "/authorize", login.authorize, methods=["GET", "POST"], include_in_schema=False
    )
    app.add_api_route(path + "/token", login.token, methods=["POST"], include_in_schema=False)
    app.add_api_route(path + "/register", login.register, methods=["POST"], include_in_schema=False)
