"""Identity settings: which authenticator runs and how it is configured.

Every model forbids unknown keys, so a typo in ``gateway.yaml`` is a start-up error rather than
a silently ignored setting. Secrets are never values here, only paths to files.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "AuthSettings",
    "DevSettings",
    "ForwardAuthSettings",
    "IntrospectionSettings",
    "OidcSettings",
    "ThrottleSettings",
]

#: Every algorithm the verifier knows. ``none`` is not one of them and never will be.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256"}
)


def _check_http_url(value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{key} must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError(f"{key} must not carry credentials")
    return value


class IntrospectionSettings(BaseModel):
    """RFC 7662 token introspection, asked after the JWT itself has been verified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    client_id: str = Field(min_length=1)
    client_secret_file: Path
    cache_seconds: float = Field(30.0, ge=0, le=300)
    timeout_seconds: float = Field(5.0, gt=0, le=30)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        return _check_http_url(value, "introspection.endpoint")


class OidcSettings(BaseModel):
    """Bearer JWT access tokens from an OpenID Connect issuer (Authentik)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Kept byte for byte, trailing slash included: Authentik's issuer ends with ``/``.
    issuer: str
    audience: list[str] = Field(min_length=1)
    #: ``azp`` / ``client_id`` allow-list; empty means any client of this issuer.
    allowed_clients: list[str] = Field(default_factory=list)
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1)
    hs256_secret_file: Path | None = None
    #: Overrides the ``jwks_uri`` of the discovery document; discovery is then skipped.
    jwks_url: str | None = None
    #: Clock skew allowed for ``nbf`` and ``iat``.
    leeway_seconds: int = Field(30, ge=0, le=120)
    #: Grace after ``exp``: 0 (default) stops an expired token at once.
    exp_leeway_seconds: int = Field(0, ge=0, le=60)
    max_token_bytes: int = Field(8192, ge=512, le=65536)
    #: Key-set fetches are at least this far apart, whoever asks (unknown kid, refresh).
    jwks_min_refetch_seconds: float = Field(5.0, ge=1, le=3600)
    #: The key set is never trusted longer than this after its last good fetch; it is
    #: refreshed at the issuer's ``Cache-Control: max-age``, and at half of this at the latest.
    jwks_max_age_seconds: float = Field(600.0, ge=10, le=86400)
    discovery_timeout_seconds: float = Field(5.0, gt=0, le=60)
    #: The principal must be in at least one of these groups (empty: no group needed).
    required_groups: list[str] = Field(default_factory=list)
    introspection: IntrospectionSettings | None = None

    @field_validator("issuer")
    @classmethod
    def _issuer_is_url(cls, value: str) -> str:
        return _check_http_url(value, "oidc.issuer")

    @field_validator("jwks_url")
    @classmethod
    def _jwks_is_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value, "oidc.jwks_url")

    @field_validator("audience", "allowed_clients", "required_groups")
    @classmethod
    def _no_empty_items(cls, value: list[str]) -> list[str]:
        if any(not item for item in value):
            raise ValueError("items must be non-empty strings")
        return value

    @model_validator(mode="after")
    def _check_algorithms(self) -> OidcSettings:
        for alg in self.algorithms:
            if alg not in SUPPORTED_ALGORITHMS:
                raise ValueError(f"algorithm {alg!r} is not supported")
        if "HS256" in self.algorithms and self.hs256_secret_file is None:
            raise ValueError("HS256 requires hs256_secret_file")
        if self.hs256_secret_file is not None and "HS256" not in self.algorithms:
            raise ValueError("hs256_secret_file is set but HS256 is not in algorithms")
        if self.jwks_max_age_seconds < 4 * self.jwks_min_refetch_seconds:
            raise ValueError(
                "jwks_max_age_seconds must be at least 4 x jwks_min_refetch_seconds "
                "(room to refresh, and retry, before the key set expires)"
            )
        return self


class ForwardAuthSettings(BaseModel):
    """Identity from ``X-authentik-*`` headers set by an Authentik proxy outpost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Peers (the outpost) whose identity headers are believed; nobody else's are.
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(min_length=1)
    header_prefix: str = "X-authentik-"
    #: The client id given to forward-auth principals (the outpost has no token to carry one).
    client_id: str | None = None


class DevSettings(BaseModel):
    """Demo only: a local key pair mints and verifies tokens; refused on non-loopback binds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: PEM private key (EC P-256 or RSA); created with mode 0600 when missing. None: in memory.
    key_file: Path | None = None
    issuer: str = "http://127.0.0.1/dev/"
    audience: str = "labgate"


class ThrottleSettings(BaseModel):
    """Per client address, before authentication: each request takes a token and gives it back
    once authenticated, so failed attempts (and attempts still being checked) spend the bucket.
    An empty bucket answers 429 with ``Retry-After`` without authenticating."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Tokens a client address regains per second (failed or pending authentications spend them).
    per_second: float = Field(2.0, gt=0, le=10_000)
    #: Bucket size: failed authentications an address may make in a row before 429.
    burst: int = Field(30, ge=1, le=100_000)


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["oidc", "forward_auth", "dev"] = "oidc"
    #: Per-address throttle applied before authentication (429 with ``Retry-After``).
    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings)
    oidc: OidcSettings | None = None
    forward_auth: ForwardAuthSettings | None = None
    dev: DevSettings = Field(default_factory=DevSettings)

    @model_validator(mode="after")
    def _section_for_mode(self) -> AuthSettings:
        # ``AuthSettings()`` (nothing configured) is a valid value so that it can be a default;
        # build_authenticator then refuses to start without an oidc section.
        if not self.model_fields_set:
            return self
        if self.mode == "oidc" and self.oidc is None:
            raise ValueError("auth.mode is 'oidc' but the 'oidc' section is missing")
        if self.mode == "forward_auth" and self.forward_auth is None:
            raise ValueError(
                "auth.mode is 'forward_auth' but the 'forward_auth' section is missing"
            )
        return self
