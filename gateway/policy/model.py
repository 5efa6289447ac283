"""The policy file models: what an operator may write, checked for shape.

These models know nothing about the registry; :mod:`gateway.policy.bind` checks a parsed
file against the capability's tools, argument and record models and scope model.
Every model forbids unknown keys, so a typo is a load error, never a silently ignored line.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PERIODS",
    "Approval",
    "ArgBound",
    "Cache",
    "CapabilityPolicy",
    "Day",
    "GlobalPolicy",
    "GlobalRule",
    "Limits",
    "Maintenance",
    "ResultRule",
    "Rule",
    "When",
    "Who",
]

RULE_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
ALIAS = r"^[a-z][a-z0-9_-]{0,63}$"
#: Characters that make a ``tools`` entry a glob (expanded against the capability's tools).
GLOB_CHARS = frozenset("*?[")
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
RATE = re.compile(r"^([1-9]\d{0,8})/(second|minute|hour|day)$")
#: Seconds per period word of a ``rate``.
PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
MAX_RESULT_CHARS = 50_000

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Name = Annotated[str, Field(min_length=1, max_length=200)]
NameList = Annotated[list[Name], Field(min_length=1, max_length=500)]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Who(_Strict):
    """All given keys must match; a list matches when any item matches.

    ``principal`` names an alias from ``gateway.yaml`` ``principals``; the loader replaces it
    by the alias's keys (merged with the other keys given), so evaluation never sees it.
    """

    principal: Annotated[str, Field(pattern=ALIAS)] | None = None
    clients: NameList | None = None
    groups: NameList | None = None
    users: NameList | None = None
    subjects: NameList | None = None
    entitlements: NameList | None = None


def is_glob(name: str) -> bool:
    """Whether a ``tools`` entry is a glob (``health_*``), not a tool name."""
    return any(c in GLOB_CHARS for c in name)


class When(_Strict):
    """A local-time window; a rule with ``when`` only matches inside it."""

    hours: str | None = None
    days: Annotated[list[Day], Field(min_length=1)] | None = None
    tz: ZoneInfo = ZoneInfo("UTC")

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is None:
            return None
        m = HOURS.match(value)
        if m is None:
            raise ValueError('hours must look like "HH:MM-HH:MM"')
        start = int(m[1]) * 60 + int(m[2])
        end = int(m[3]) * 60 + int(m[4])
        if end > 24 * 60:
            raise ValueError("hours end at 24:00 at the latest")
        if start == end:
            raise ValueError("hours start and end must differ")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> When:
        if self.hours is None and self.days is None:
            raise ValueError("when needs hours or days")
        return self

    def minutes(self) -> tuple[int, int] | None:
        """``(start, end)`` in minutes after local midnight; ``None`` without ``hours``."""
        if self.hours is None:
            return None
        start, end = self.hours.split("-")
        sh, sm = start.split(":")
        eh, em = end.split(":")
        return int(sh) * 60 + int(sm), int(eh) * 60 + int(em)


class ArgBound(_Strict):
    """Bounds on one argument, checked on every call."""

    min: float | None = None
    max: float | None = None
    max_length: Annotated[int, Field(ge=0)] | None = None
    one_of: Annotated[list[Scalar], Field(min_length=1)] | None = None
    pattern: re.Pattern[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ArgBound:
        if all(getattr(self, k) is None for k in type(self).model_fields):
            raise ValueError("an argument bound needs min, max, max_length, one_of or pattern")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class ResultRule(_Strict):
    """How a result is cut down before the agent sees it."""

    fields: Annotated[list[Name], Field(min_length=1)] | None = None
    truncate: dict[str, Annotated[int, Field(ge=1, le=MAX_RESULT_CHARS)]] | None = None
    max_items: Annotated[int, Field(ge=1, le=10_000)] | None = None


class Limits(_Strict):
    """A token bucket: ``rate`` is ``N/second|minute|hour|day``; ``burst`` its depth."""

    rate: str
    burst: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    #: When the shared limit store (Redis) is away: ``deny`` the call (a limit is a guard),
    #: or count it in this replica's own bucket (``local``).
    fallback: Literal["deny", "local"] = "deny"

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        if RATE.match(value) is None:
            raise ValueError('rate must look like "60/hour" (second, minute, hour or day)')
        return value

    @property
    def count(self) -> int:
        return int(self.rate.split("/")[0])

    @property
    def period_seconds(self) -> float:
        return PERIODS[self.rate.split("/")[1]]


class Cache(_Strict):
    ttl_seconds: Annotated[float, Field(gt=0, le=86_400)]


DURATION = re.compile(r"^([1-9]\d{0,5})(s|m|h|d)$")
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Matrix user id: ``@localpart:server``.
MATRIX_USER = r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d{1,5})?$"


class Approval(_Strict):
    """What a proposal allowed by the rule needs before anything is written.

    Required on every rule that allows a proposing (write) tool.
    """

    required: Literal[True] = True
    #: Matrix user ids whose reaction or command counts (``@owner:lab.example``).
    approvers: Annotated[
        list[Annotated[str, Field(pattern=MATRIX_USER, max_length=255)]],
        Field(min_length=1, max_length=50),
    ]
    #: How long a proposal waits for a decision: ``90s``, ``30m``, ``24h``, ``7d``.
    expires_after: str = "24h"
    #: Proposals one principal may make under this rule per UTC day.
    daily_quota: Annotated[int, Field(ge=1, le=10_000)] = 50

    @field_validator("expires_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        m = DURATION.match(value)
        if m is None:
            raise ValueError('expires_after must look like "24h" (s, m, h or d)')
        if int(m[1]) * DURATION_SECONDS[m[2]] > 30 * 86400:
            raise ValueError("expires_after is at most 30d")
        return value

    @property
    def expires_seconds(self) -> int:
        m = DURATION.match(self.expires_after)
        assert m is not None  # validated
        return int(m[1]) * DURATION_SECONDS[m[2]]


class Rule(_Strict):
    id: Annotated[str, Field(pattern=RULE_ID, max_length=64)]
    effect: Literal["allow", "deny"] = "allow"
    description: Annotated[str, Field(max_length=500)] | None = None
    who: Who | None = None
    tools: Annotated[list[Name], Field(min_length=1)] | None = None
    when: When | None = None
    args: dict[str, ArgBound] | None = None
    scope: dict[str, Any] | None = None
    result: ResultRule | None = None
    limits: Limits | None = None
    cache: Cache | None = None
    redact: list[Name] | None = None
    approval: Approval | None = None

    @model_validator(mode="after")
    def _effect_keys(self) -> Rule:
        tools = self.tools or []
        if len(set(tools)) != len(tools):
            raise ValueError("a tool is listed twice")
        if "*" in tools and len(tools) > 1:
            raise ValueError('"*" must be the only entry of tools')
        if self.effect == "allow":
            if not tools:
                raise ValueError("an allow rule must list its tools")
            if "*" in tools:
                raise ValueError(
                    '"*" is only allowed on deny rules; list the tools to allow, '
                    "by name or by a glob such as health_*"
                )
        else:
            extra = [
                k
                for k in ("args", "scope", "result", "limits", "cache", "redact", "approval")
                if getattr(self, k) is not None
            ]
            if extra:
                raise ValueError(f"a deny rule takes no {', '.join(extra)}")
        return self

    def applies_to(self, tool: str) -> bool:
        """Whether ``tool`` is named by this rule (a deny rule without tools names all)."""
        tools = self.tools or ["*"]
        return "*" in tools or tool in tools


class CapabilityPolicy(_Strict):
    """One ``policies/<capability>.yaml`` file."""

    capability: Annotated[str, Field(min_length=1, max_length=100)]
    #: Rule ids must be unique within the file (checked with their line by the binder).
    rules: Annotated[list[Rule], Field(max_length=1000)] = Field(default_factory=list)


class GlobalRule(_Strict):
    """A rule of ``gateway.yaml``: it holds across every capability and tool.

    ``deny`` denies every call it matches. ``allow`` rules are a gate: when there is at
    least one, a call must match one of them (and then a capability rule) to be allowed.
    """

    id: Annotated[str, Field(pattern=RULE_ID, max_length=64)]
    effect: Literal["allow", "deny"] = "deny"
    description: Annotated[str, Field(max_length=500)] | None = None
    who: Who | None = None
    when: When | None = None

    @model_validator(mode="after")
    def _narrow(self) -> GlobalRule:
        if self.who is None and self.when is None:
            raise ValueError("a global rule needs who or when (else it matches every call)")
        return self


class Maintenance(_Strict):
    enabled: bool = False
    message: Annotated[str, Field(max_length=200)] | None = None


class GlobalPolicy(_Strict):
    """``policies/gateway.yaml``: what holds across every capability."""

    kill_switch: bool = False
    maintenance: Maintenance = Maintenance()
    #: Reusable ``who`` blocks, referenced from any rule as ``who: {principal: NAME}``.
    principals: dict[Annotated[str, Field(pattern=ALIAS)], Who] = Field(default_factory=dict)
    #: Rules over every capability, evaluated before the capabilities' own rules.
    rules: Annotated[list[GlobalRule], Field(max_length=200)] = Field(default_factory=list)
    limits: Limits | None = None
    max_result_chars: Annotated[int, Field(ge=1, le=MAX_RESULT_CHARS)] = MAX_RESULT_CHARS
    tool_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
