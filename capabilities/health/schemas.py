"""Config, policy scope, tool arguments and tool outputs of the health capability.

Every model here is part of a contract (the operator's config, the policy file, the agent's
tool schema), so all of them forbid unknown keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.capability import UntrustedText

__all__ = [
    "GetServiceArgs",
    "HealthConfig",
    "HealthScope",
    "Heartbeat",
    "Incident",
    "ListServicesArgs",
    "Problem",
    "Service",
    "ServiceDetail",
    "ServiceList",
    "Status",
    "StatusCounts",
    "Summary",
    "SummaryArgs",
]

#: ``paused``: a status page lists the monitor but ``/metrics`` does not (Uptime Kuma drops a
#: stopped monitor's series; also briefly after its restart, until the monitor beats).
Status = Literal["up", "down", "pending", "maintenance", "paused", "unknown"]

#: A status-page slug as Uptime Kuma accepts it; it is put into a URL path.
Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Glob = Annotated[str, Field(min_length=1, max_length=200)]

_FORBID = ConfigDict(extra="forbid")


class HealthConfig(BaseModel):
    """The capability's section in gateway.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upstream: str = Field(
        "uptime_kuma", min_length=1, max_length=64, description="Entry of `upstreams:`."
    )
    metrics: bool = Field(
        True, description="Read /metrics (HTTP Basic, password = API key, injected upstream)."
    )
    status_pages: tuple[Slug, ...] = Field(
        (), max_length=20, description="Status-page slugs to read (public JSON API)."
    )
    metrics_ttl_seconds: float = Field(10, ge=1, le=300)
    status_page_ttl_seconds: float = Field(30, ge=1, le=600)
    error_ttl_seconds: float = Field(10, ge=0, le=300)
    request_timeout_seconds: float = Field(5, gt=0, le=60)
    stale_after_seconds: int = Field(900, ge=60, le=7 * 86400)

    @model_validator(mode="after")
    def _one_source(self) -> HealthConfig:
        if not self.metrics and not self.status_pages:
            raise ValueError("enable metrics or name at least one status page")
        if len(set(self.status_pages)) != len(self.status_pages):
            raise ValueError("status_pages lists a slug twice")
        return self


class HealthScope(BaseModel):
    """The policy's ``scope`` block. Every key given narrows what is visible (AND);
    inside a key, any item may match (OR). Matching is case-insensitive."""

    model_config = _FORBID

    names: list[Glob] | None = Field(None, description="Monitor name globs, e.g. 'NAS*'.")
    tags: list[Glob] | None = Field(None, description="'name' or 'name=value' globs.")
    groups: list[Glob] | None = Field(None, description="'<slug>/<group name>' globs.")
    exclude_names: list[Glob] = Field(default_factory=list)
    exclude_tags: list[Glob] = Field(default_factory=list)
    show_addresses: bool = Field(False, description="Reveal monitor URL, hostname and port.")


class ListServicesArgs(BaseModel):
    model_config = _FORBID

    status: Status | None = Field(None, description="Only services in this state.")
    group: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="Only services in this status-page group: 'Group name' or 'slug/Group name'.",
    )
    limit: int = Field(50, ge=1, le=100, description="Page size.")
    cursor: str | None = Field(
        None, min_length=1, max_length=400, description="next_cursor of the previous page."
    )


class GetServiceArgs(BaseModel):
    model_config = _FORBID

    name: str = Field(
        min_length=1, max_length=200, description="Exact service name from health_list_services."
    )
    heartbeats: int = Field(20, ge=1, le=100, description="How many recent checks to return.")


class SummaryArgs(BaseModel):
    model_config = _FORBID


class Service(BaseModel):
    """One monitored service as the agent sees it."""

    model_config = _FORBID

    name: UntrustedText
    type: str | None = Field(None, description="Monitor type (http, port, push, keyword, ...).")
    status: Status
    status_since: datetime | None = Field(None, description="First check in the current state.")
    since_is_lower_bound: bool = Field(
        False, description="The state began at or before status_since (history ran out)."
    )
    stale: bool = Field(False, description="No recent check (paused, or checks stopped).")
    latency_ms: float | None = None
    uptime_24h: float | None = Field(None, description="Ratio 0..1.")
    uptime_30d: float | None = Field(None, description="Ratio 0..1 (Uptime Kuma 2.1+ metrics).")
    cert_days_left: float | None = None
    last_check: datetime | None = None
    groups: list[UntrustedText] = Field(default_factory=list, description="'slug/Group name'.")
    tags: list[UntrustedText] = Field(default_factory=list)
    url: str | None = Field(None, description="Only when the policy shows addresses.")
    hostname: str | None = Field(None, description="Only when the policy shows addresses.")
    port: int | None = Field(None, description="Only when the policy shows addresses.")


class ServiceList(BaseModel):
    model_config = _FORBID

    items: list[Service]
    next_cursor: str | None = None
    partial: bool = False


class Heartbeat(BaseModel):
    model_config = _FORBID

    time: datetime
    status: Status
    latency_ms: float | None = None


class Incident(BaseModel):
    model_config = _FORBID

    page: str
    style: str | None = None
    title: UntrustedText
    content: UntrustedText
    created: datetime | None = None
    updated: datetime | None = None


class ServiceDetail(Service):
    heartbeats: list[Heartbeat] = Field(default_factory=list, description="Newest first.")
    incidents: list[Incident] = Field(default_factory=list)
    maintenance: list[UntrustedText] = Field(
        default_factory=list, description="Active maintenance windows on its status pages."
    )
    partial: bool = False


class StatusCounts(BaseModel):
    model_config = _FORBID

    up: int = 0
    down: int = 0
    pending: int = 0
    maintenance: int = 0
    paused: int = 0
    unknown: int = 0


class Problem(BaseModel):
    model_config = _FORBID

    name: UntrustedText
    status: Status
    since: datetime | None = None
    since_is_lower_bound: bool = False
    stale: bool = False
    last_check: datetime | None = None


class Summary(BaseModel):
    model_config = _FORBID

    total: int
    counts: StatusCounts
    stale: int = Field(0, description="Services with no recent check (maybe paused).")
    problems: list[Problem] = Field(description="Services down or pending right now.")
    incidents: list[Incident] = Field(default_factory=list)
    partial: bool = False
