"""The ``mcp_upstream`` configuration: which MCP servers labgate fronts, and how it reaches them.

::

    capabilities:
      mcp_upstream:
        servers:
          homeassistant:                       # the capability (and tool prefix) of its tools
            transport: http
            url: https://ha.lan:8123/api/mcp
            auth: {scheme: bearer, secret_file: /run/secrets/ha_mcp_token}
          gitea:
            transport: stdio
            command: /usr/local/bin/gitea-mcp
            args: [-t, stdio]
            env_files: {GITEA_ACCESS_TOKEN: /run/secrets/gitea_token}

Secrets are file paths, read when the server is connected; they never appear in the
configuration, the pins, the logs or a result.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_SERVER_NAME",
    "HttpAuth",
    "HttpServer",
    "McpUpstreamConfig",
    "ServerConfig",
    "StdioServer",
]

MAX_SERVER_NAME = 24
_SERVER = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "cookie", "accept"}
)
Protocol = Literal["auto", "legacy", "2026-07-28"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_ctl(value: str) -> bool:
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


class HttpAuth(_Strict):
    """The credential labgate sends (never the agent's token)."""

    scheme: Literal["bearer", "header"]
    #: File holding the token (a Docker secret).
    secret_file: Path
    #: For ``header``: the header that carries the secret, e.g. ``X-API-Key``.
    header: str | None = None

    @model_validator(mode="after")
    def _header(self) -> HttpAuth:
        if self.scheme == "header":
            if not self.header or not _HEADER.match(self.header):
                raise ValueError("scheme 'header' needs a valid 'header' name")
            if self.header.lower() in _RESERVED_HEADERS | {"authorization"}:
                raise ValueError(f"header {self.header!r} cannot carry a secret")
        elif self.header is not None:
            raise ValueError("'header' is only allowed with scheme 'header'")
        return self


class _Common(_Strict):
    #: Seconds to connect and complete the handshake.
    connect_timeout: float = Field(10.0, gt=0, le=120)
    #: Seconds one ``tools/call`` may take before it fails with ``upstream_timeout``.
    call_timeout: float = Field(30.0, gt=0, le=600)
    #: A call result larger than this (as JSON) fails with ``upstream_error``.
    max_result_bytes: int = Field(1_048_576, ge=1_024, le=64 * 1_048_576)
    #: Content blocks kept from one result; more mark the answer partial.
    max_items: int = Field(50, ge=1, le=1_000)
    #: Characters kept of one text block; longer text is cut and the answer marked partial.
    max_text_chars: int = Field(20_000, ge=100, le=50_000)
    #: Seconds between tool listings (besides ``notifications/tools/list_changed``); a
    #: listing that fails ends the connection, which is then made again.
    relist_seconds: float = Field(300.0, ge=1, le=86_400)
    #: Protocol era: ``auto`` probes the 2026 era and falls back to the initialize handshake.
    protocol: Protocol = "auto"
    #: Tools read from one listing at most (a listing beyond this is refused).
    max_tools: int = Field(500, ge=1, le=5_000)


class HttpServer(_Common):
    """An MCP server over Streamable HTTP."""

    transport: Literal["http"]
    url: str
    auth: HttpAuth | None = None
    #: Static, non-secret headers sent with every request.
    headers: dict[str, str] = Field(default_factory=dict)
    #: ``true``, ``false`` or the path of a CA bundle (PEM).
    verify_tls: bool | Path = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError("url is not a valid URL") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("url must be an absolute http:// or https:// URL")
        if url.userinfo:
            raise ValueError("url must not carry credentials; use auth.secret_file")
        if url.fragment or "#" in value:
            raise ValueError("url must not have a fragment")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if not _HEADER.match(name) or name.lower() in _RESERVED_HEADERS | {"authorization"}:
                raise ValueError(f"header {name!r} cannot be set statically")
            if name.lower().startswith("mcp-"):
                raise ValueError(f"header {name!r} belongs to the protocol")
            if not _no_ctl(item):
                raise ValueError(f"header {name!r} has control characters")
        return value


class StdioServer(_Common):
    """An MCP server run as a child process, spoken to over its stdin and stdout."""

    transport: Literal["stdio"]
    #: The executable (an absolute path, or a name looked up in the child's ``PATH``).
    command: str = Field(min_length=1, max_length=500)
    args: list[str] = Field(default_factory=list, max_length=100)
    #: Working directory of the child (default: labgate's own).
    cwd: Path | None = None
    #: Non-secret environment of the child, e.g. ``{PATH: /usr/bin:/bin}``.
    env: dict[str, str] = Field(default_factory=dict)
    #: Environment variables whose value is read from a file (secrets).
    env_files: dict[str, Path] = Field(default_factory=dict)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not _no_ctl(value):
            raise ValueError("command has control characters")
        return value

    @field_validator("env", "env_files")
    @classmethod
    def _env_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name, item in value.items():
            if not _ENV.match(name):
                raise ValueError(f"environment variable name {name!r} is not allowed")
            if isinstance(item, str) and ("\x00" in item or not _no_ctl(item)):
                raise ValueError(f"environment variable {name} has control characters")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> StdioServer:
        both = sorted(set(self.env) & set(self.env_files))
        if both:
            raise ValueError(f"{both[0]} is set in both env and env_files")
        return self


ServerConfig = Annotated[HttpServer | StdioServer, Field(discriminator="transport")]


class McpUpstreamConfig(_Strict):
    """``capabilities.mcp_upstream``: the fronted servers, by name."""

    servers: dict[str, ServerConfig] = Field(default_factory=dict, max_length=50)
    #: Where ``<server>.pins.json`` files live (default: the policy directory).
    pins_dir: Path | None = None

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, ServerConfig]) -> dict[str, ServerConfig]:
        for name in value:
            if not _SERVER.match(name) or len(name) > MAX_SERVER_NAME:
                raise ValueError(
                    f"server name {name!r} must be snake_case (a-z, 0-9, single '_'), "
                    f"at most {MAX_SERVER_NAME} characters"
                )
        return value
