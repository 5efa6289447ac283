"""Settings: ``gateway.yaml`` plus ``LABGATE_*`` environment; secrets are file paths.

Precedence (highest first): keyword arguments, environment (``LABGATE_AUTH__MODE=dev``,
``__`` separates nesting levels), the YAML file named by ``LABGATE_CONFIG`` (default
``./gateway.yaml`` when it exists), then the defaults below. This is the only module that
reads the environment. An invalid configuration raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from gateway.approvals.settings import ApprovalsSettings
from gateway.auth.settings import AuthSettings
from gateway.errors import ConfigError
from gateway.secrets import read_secret_file
from gateway.shared.settings import RedisSettings, ReplicaSettings
from gateway.upstream.settings import UpstreamSettings

__all__ = [
    "ListenSettings",
    "McpClientProfile",
    "McpSettings",
    "PostgresSettings",
    "Settings",
    "child_environment",
    "load_settings",
]

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("labgate_config_file", default=None)


class TelemetrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: OTLP/HTTP collector base URL (``/v1/traces`` is appended); ``None``: no span export.
    otlp_endpoint: str | None = None
    service_name: str = "labgate"
    #: Record spans even without an exporter (default: only when ``otlp_endpoint`` is set;
    #: unrecorded spans still give the audit record its trace id).
    record_spans: bool = False

    @field_validator("otlp_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("otlp_endpoint must be an http:// or https:// URL")
        return value

    def traces_url(self) -> str | None:
        if self.otlp_endpoint is None:
            return None
        base = self.otlp_endpoint.rstrip("/")
        return base if base.endswith("/v1/traces") else base + "/v1/traces"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListenSettings(_Strict):
    """A listener's address and what one connection may cost before a request reaches the app."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    #: Open connections at once; one more is answered 503 and closed.
    max_connections: int = Field(256, ge=1, le=100_000)
    #: Bytes of a request head (request line and header fields); beyond: 431 and close.
    max_header_bytes: int = Field(32_768, ge=1_024, le=1_048_576)
    #: Header fields in a request head; beyond: 431 and close.
    max_headers: int = Field(100, ge=8, le=1_000)
    #: Seconds to receive a whole request head, from the connection's opening or from the
    #: first byte of a next request; beyond: 408 and close.
    header_timeout: float = Field(10.0, gt=0, le=300)
    #: Seconds an idle keep-alive connection stays open after a response.
    keep_alive_timeout: int = Field(5, ge=1, le=300)


class PostgresSettings(_Strict):
    """Where audit records are shipped. The password lives in a file, never in the DSN."""

    dsn: str = Field(description="postgresql://user@host:port/db, without a password")
    password_file: Path | None = None
    batch_size: int = Field(500, ge=1, le=10_000)
    #: One shipping attempt (connect, COPY, commit) that takes longer is abandoned and reported.
    ship_timeout_seconds: float = Field(10.0, gt=0, le=600)

    @field_validator("dsn")
    @classmethod
    def _no_password(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must start with postgresql://")
        if parts.password:
            raise ValueError("must not contain a password; use password_file")
        return value

    def resolved_dsn(self) -> str:
        """The DSN with the password from ``password_file`` inserted (never log this)."""
        if self.password_file is None:
            return self.dsn
        password = read_secret_file(self.password_file, "postgres.password_file")
        parts = urlsplit(self.dsn)
        netloc = f"{parts.username or ''}:{quote(password, safe='')}@{parts.hostname or ''}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))


class McpClientProfile(_Strict):
    """How MCP answers are shaped for one OAuth client, in the 2025 protocol eras only."""

    #: ``result``: a refused call (denied, invalid_arguments, rate_limited, unknown tool) is a
    #: normal result whose ``structuredContent`` is ``{"error": {...}}``, for clients that count
    #: every ``isError`` result as a server failure; ``is_error``: the MCP default.
    policy_errors: Literal["is_error", "result"] = "is_error"
    #: ``summary``: beside ``structuredContent`` the text block is one short line, for clients
    #: that hand the model both; ``full``: the same JSON again (the MCP default).
    text: Literal["full", "summary"] = "full"


class McpSettings(_Strict):
    enabled: bool = True
    #: Host header values accepted on /mcp (reverse-proxy names); empty: any.
    allowed_hosts: list[str] = Field(default_factory=list)
    #: Origin header values accepted on /mcp; requests without Origin are accepted.
    allowed_origins: list[str] = Field(default_factory=list)
    #: Scope the token must carry to use MCP (403 insufficient_scope otherwise); none: no check.
    required_scope: str | None = None
    #: RFC 9728 ``scopes_supported``: the scopes an OAuth client requests for labgate, e.g.
    #: ``[openid, profile, offline_access]``; empty: ``required_scope`` alone, if set.
    scopes_supported: list[str] = Field(default_factory=list)
    #: Answer shapes per OAuth client id (``azp``/``client_id``), e.g.
    #: ``{hermes: {policy_errors: result, text: summary}}``; other clients get the defaults.
    client_profiles: dict[str, McpClientProfile] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LABGATE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    #: Public base URL agents use (RFC 9728 ``resource``); default built from ``listen``.
    public_url: str | None = None
    listen: ListenSettings = ListenSettings()
    operator_listen: ListenSettings = ListenSettings(port=9090)
    policy_dir: Path = Path("policies")
    journal_path: Path = Path("var/audit.db")
    #: SQLite ``synchronous`` of the journal: FULL (an answered call's record survives a power
    #: loss) or NORMAL (survives a process kill; the last commits may be lost on power loss).
    journal_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    postgres: PostgresSettings | None = None
    #: Proposals (write tools) and the Matrix room where a human approves them.
    approvals: ApprovalsSettings = ApprovalsSettings()
    #: This replica's name and the replicas expected (several gateways behind one proxy).
    replica: ReplicaSettings = Field(default_factory=ReplicaSettings)
    #: Shared rate limits, result cache and replica status; ``None``: all local to the process.
    redis: RedisSettings | None = None
    auth: AuthSettings = Field(default_factory=AuthSettings)
    upstreams: dict[str, UpstreamSettings] = Field(default_factory=dict)
    #: Per-capability configuration, validated by each capability's own config model.
    capabilities: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Extra (third-party) capabilities to load: ``module:ATTRIBUTE`` strings. Opt-in only.
    extra_capabilities: list[str] = Field(default_factory=list)
    #: Serve each capability's sample data instead of contacting upstreams (demo).
    sample_data: bool = False
    #: File with the key (at least 32 bytes) that seals page cursors; gateways sharing one
    #: address need the same key. Unset: a random key per process (cursors end at restart).
    cursor_key_file: Path | None = None
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    mcp: McpSettings = McpSettings()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: Policy files are watched and reloaded on change (SIGHUP always reloads).
    watch_policies: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _CONFIG_FILE.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    def proposals_path(self) -> Path:
        """The proposal store: ``approvals.store_path`` or ``proposals.db`` beside the journal."""
        return self.approvals.store_path or self.journal_path.with_name("proposals.db")

    def agent_base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.listen.host}:{self.listen.port}"


def child_environment(**settings: str) -> dict[str, str]:
    """This process's environment plus ``LABGATE_<NAME>`` for each given setting, for a child
    labgate process (``serve --workers``)."""
    return {**os.environ, **{f"LABGATE_{k.upper()}": v for k, v in settings.items()}}


def config_file_from_env() -> Path | None:
    """``LABGATE_CONFIG`` or ``./gateway.yaml`` when it exists."""
    named = os.environ.get("LABGATE_CONFIG")
    if named:
        return Path(named)
    default = Path("gateway.yaml")
    return default if default.is_file() else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings or raise ConfigError naming the first offending key."""
    path = config_file if config_file is not None else config_file_from_env()
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"configuration file {path} does not exist", key="LABGATE_CONFIG")
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}", key=str(path)) from None
    token = _CONFIG_FILE.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(root)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"invalid setting {key}: {first['msg']}{more}", key=key) from None
    finally:
        _CONFIG_FILE.reset(token)
