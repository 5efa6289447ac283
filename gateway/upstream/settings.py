"""Configuration of one upstream: where it is, how to authenticate, how long to wait.

Secrets are never part of the configuration itself: ``auth.secret_file`` names a file
(a Docker secret) read once when the client is built, kept as :class:`pydantic.SecretStr`.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gateway.errors import ConfigError
from gateway.secrets import read_secret_file
from gateway.upstream.guard import bad_segment

__all__ = ["AuthSettings", "BreakerSettings", "Credential", "UpstreamSettings", "load_credential"]

MIB = 1024 * 1024
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
#: Headers that carry credentials or framing; never accepted as static ``headers``.
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "accept-encoding",
    }
)


class AuthSettings(BaseModel):
    """How labgate authenticates to the upstream (the agent's own token never goes upstream)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Literal["bearer", "token", "basic", "header"]
    #: Only for ``basic`` (may be empty: Uptime Kuma takes the API key as the password).
    username: str | None = None
    #: File holding the secret (token, password or API key); read at client build time.
    secret_file: Path
    #: Only for ``header``: the header that carries the secret, e.g. ``X-API-Key``.
    header: str | None = None

    @model_validator(mode="after")
    def _check_scheme_fields(self) -> AuthSettings:
        if self.scheme == "header":
            if not self.header or not _HEADER_NAME.match(self.header):
                raise ValueError("scheme 'header' needs a valid 'header' name")
            if self.header.lower() in _RESERVED_HEADERS - {"authorization"}:
                raise ValueError(f"header {self.header!r} cannot carry a secret")
        elif self.header is not None:
            raise ValueError("'header' is only allowed with scheme 'header'")
        if self.scheme != "basic" and self.username is not None:
            raise ValueError("'username' is only allowed with scheme 'basic'")
        if self.username is not None and (":" in self.username or _has_ctl(self.username)):
            raise ValueError("'username' must not contain ':' or control characters")
        return self


class BreakerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Consecutive failures (connect errors, timeouts, 5xx) that open the breaker.
    failures: int = Field(5, ge=1, le=1000)
    #: Seconds the breaker stays open before letting one probe through.
    reset_seconds: float = Field(30.0, gt=0, le=3600)


class UpstreamSettings(BaseModel):
    """One upstream service, e.g. ``upstreams.influxdb`` in ``gateway.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    auth: AuthSettings | None = None
    connect_timeout: float = Field(3.0, gt=0, le=60)
    read_timeout: float = Field(10.0, gt=0, le=300)
    #: Deadline for the whole request (retries, headers and body); ends a slow drip.
    total_timeout: float = Field(15.0, gt=0, le=600)
    max_response_bytes: int = Field(2 * MIB, ge=1024, le=256 * MIB)
    #: Extra attempts after a connection error, for GET/HEAD or requests marked idempotent.
    retries: int = Field(1, ge=0, le=5)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    #: ``true``, ``false`` (logged as a warning) or the path of a CA bundle (PEM).
    verify_tls: bool | Path = True
    #: Static, non-secret headers sent with every request.
    headers: dict[str, str] = Field(default_factory=dict)
    #: Check that 2xx JSON responses parse; garbage becomes ``upstream_error``.
    check_json: bool = True

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError("base_url is not a valid URL") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an absolute http:// or https:// URL")
        if url.userinfo:
            raise ValueError("base_url must not carry credentials; use auth.secret_file")
        if url.query or url.fragment or "?" in value or "#" in value:
            raise ValueError("base_url must not have a query or fragment")
        raw_path = value.split("://", 1)[1].partition("/")[2]
        if "\\" in value or any(bad_segment(s) for s in raw_path.split("/")):
            raise ValueError("base_url path must not contain dot segments or backslashes")
        return value

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, val in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} cannot be set statically")
            if _has_ctl(val):
                raise ValueError(f"header {name!r} has control characters")
        return value

    @model_validator(mode="after")
    def _check_auth_header_clash(self) -> UpstreamSettings:
        if self.auth and self.auth.header:
            if self.auth.header.lower() in {h.lower() for h in self.headers}:
                raise ValueError(f"header {self.auth.header!r} is set both statically and by auth")
        return self


class Credential:
    """The header that carries an upstream secret; its value never shows in repr or str."""

    __slots__ = ("header", "pair", "secret", "value")

    def __init__(
        self, header: str, value: SecretStr, secret: SecretStr, pair: SecretStr | None = None
    ) -> None:
        self.header = header
        #: The full header value (``Bearer ...``).
        self.value = value
        #: The bare secret, kept to redact it from any upstream text that echoes it.
        self.secret = secret
        #: ``user:secret`` for the ``basic`` scheme (its base64 is the header's token).
        self.pair = pair

    def forms(self) -> tuple[str, ...]:
        """The plain values a result must never carry (for :class:`gateway.scrub.Scrubber`)."""
        plain = [self.secret.get_secret_value()]
        if self.pair is not None:
            plain.append(self.pair.get_secret_value())
        return tuple(plain)

    def _tokens(self) -> tuple[str, ...]:
        value = self.value.get_secret_value()
        return (value, value.rpartition(" ")[2], self.secret.get_secret_value())

    @property
    def longest(self) -> int:
        """Length of the longest form of the secret (to truncate only after redacting)."""
        return max(len(t) for t in self._tokens())

    def redact(self, text: str) -> str:
        for token in self._tokens():
            text = text.replace(token, "[redacted]")
        return text

    def __repr__(self) -> str:
        return f"Credential(header={self.header!r}, value=SecretStr('**********'))"


def load_credential(name: str, auth: AuthSettings) -> Credential:
    """Read the secret file and build the header; errors never include the file content."""
    key = f"upstreams.{name}.auth.secret_file"
    secret = read_secret_file(auth.secret_file, key)
    if _has_ctl(secret):
        raise ConfigError(f"upstream {name}: secret has control characters", key=key)
    bare = SecretStr(secret)
    if auth.scheme == "bearer":
        return Credential("Authorization", SecretStr(f"Bearer {secret}"), bare)
    if auth.scheme == "token":
        return Credential("Authorization", SecretStr(f"Token {secret}"), bare)
    if auth.scheme == "basic":
        pair = f"{auth.username or ''}:{secret}"
        encoded = base64.b64encode(pair.encode()).decode()
        return Credential("Authorization", SecretStr(f"Basic {encoded}"), bare, SecretStr(pair))
    assert auth.header is not None  # guaranteed by AuthSettings validation
    return Credential(auth.header, bare, bare)


def _has_ctl(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)
