"""Identity: who is calling. One :class:`Authenticator` per app, chosen by ``auth.mode``.

    oidc          bearer JWT access tokens from Authentik (discovery, JWKS, optional introspection)
    forward_auth  X-authentik-* headers, believed only from the configured proxy addresses
    dev           tokens minted by a local key pair; refused unless the bind is loopback

Every failure is a :class:`gateway.errors.AuthError` whose ``reason`` is an
:class:`AuthReason` value (audit only; the agent sees a plain 401). See docs/identity.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from gateway.errors import ConfigError

if TYPE_CHECKING:
    from gateway.auth.dev import DevIssuer, ensure_loopback
    from gateway.auth.forward_auth import ForwardAuthAuthenticator
    from gateway.auth.oidc import BearerAuthenticator, HttpClientFactory
    from gateway.auth.reasons import AuthReason
    from gateway.auth.settings import AuthSettings
    from gateway.capability import Principal

__all__ = [
    "AuthReason",
    "AuthSettings",
    "Authenticator",
    "BearerAuthenticator",
    "DevIssuer",
    "ForwardAuthAuthenticator",
    "build_authenticator",
    "ensure_loopback",
]


#: Where each re-exported name lives: imported on first use, so that reading settings
#: (``gateway.auth.settings``) does not load the authenticators.
_HOME = {
    "AuthReason": "reasons",
    "AuthSettings": "settings",
    "BearerAuthenticator": "oidc",
    "DevIssuer": "dev",
    "ForwardAuthAuthenticator": "forward_auth",
    "ensure_loopback": "dev",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


class Authenticator(Protocol):
    async def authenticate(self, headers: Mapping[str, str], client_host: str | None) -> Principal:
        """The caller's principal, or :class:`gateway.errors.AuthError` with a reason."""
        ...

    async def start(self) -> None:
        """Prefetch discovery and JWKS; a network error here is logged, not fatal."""
        ...

    async def aclose(self) -> None:
        """Release what ``start`` and the builder acquired (the HTTP client)."""
        ...


def build_authenticator(
    settings: AuthSettings,
    *,
    http_client_factory: HttpClientFactory | None = None,
    bind_host: str | None = None,
    dev_issuer: DevIssuer | None = None,
) -> Authenticator:
    """The authenticator for ``settings.mode``.

    ``bind_host`` is the agent listener's bind address; dev mode requires it and requires it to
    be loopback. ``dev_issuer`` lets the demo share the issuer it mints its printed token with.
    """
    from gateway.auth.dev import DevIssuer, ensure_loopback
    from gateway.auth.forward_auth import ForwardAuthAuthenticator
    from gateway.auth.oidc import build_oidc

    if settings.mode == "oidc":
        if settings.oidc is None:  # also refused by AuthSettings itself
            raise ConfigError("auth.oidc is required in oidc mode", key="auth.oidc")
        return build_oidc(settings.oidc, http_client_factory)
    if settings.mode == "forward_auth":
        if settings.forward_auth is None:
            raise ConfigError("auth.forward_auth is required", key="auth.forward_auth")
        return ForwardAuthAuthenticator(settings.forward_auth)
    if bind_host is None:
        raise ConfigError("dev auth mode needs the bind host to check it is loopback", key="auth")
    ensure_loopback(bind_host)
    issuer = dev_issuer if dev_issuer is not None else DevIssuer.from_settings(settings.dev)
    return issuer.authenticator()
