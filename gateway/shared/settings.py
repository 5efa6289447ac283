"""Settings of a gateway that runs as several replicas: who it is, and where shared state lives."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.secrets import read_secret_file

__all__ = ["RedisSettings", "ReplicaSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplicaSettings(_Strict):
    """This replica's name (stamped in every audit record) and the replicas expected."""

    #: Stamped in every audit record and shown by /readyz and /metrics; default: the host
    #: name. ``serve --workers N`` appends ``-w<i>`` for each worker.
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    #: Every replica that should have audit records; ``audit verify`` reports one without
    #: records (missing) and records of a replica not listed (foreign). Empty: not checked.
    expected: list[str] = Field(default_factory=list)

    def resolved_id(self) -> str:
        return self.id or socket.gethostname().split(".")[0][:63] or "labgate"


class RedisSettings(_Strict):
    """Shared rate limits, result cache and replica status. The password lives in a file."""

    url: str = Field(description="redis://host:port/db (or rediss://), without a password")
    #: File holding the Redis password (``requirepass`` or an ACL user's).
    password_file: Path | None = None
    #: Every key and channel labgate uses starts with this (several gateways, one Redis).
    key_prefix: str = Field("labgate:", min_length=1, max_length=64)
    #: One Redis command (connect included) that takes longer counts as Redis being away.
    timeout_seconds: float = Field(0.5, gt=0, le=30)
    #: While Redis is away, how often it is tried again (calls never wait for it).
    probe_interval_seconds: float = Field(0.5, gt=0, le=60)
    #: How often this replica publishes its status (policy version) for the others.
    heartbeat_seconds: float = Field(1.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("must start with redis:// or rediss://")
        if parts.password:
            raise ValueError("must not contain a password; use password_file")
        return value

    def resolved_url(self) -> str:
        """The URL with the password from ``password_file`` inserted (never log this)."""
        if self.password_file is None:
            return self.url
        password = read_secret_file(self.password_file, "redis.password_file")
        parts = urlsplit(self.url)
        netloc = f"{quote(parts.username or '', safe='')}:{quote(password, safe='')}@"
        netloc += parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
