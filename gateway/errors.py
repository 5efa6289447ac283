"""The one exception tree of labgate.

Every error that can reach the agent maps, once and here, to an HTTP status, a stable code
and a short safe message. Upstream text never reaches the agent: messages are written by
labgate, never copied from a response body or an exception.

    GatewayError                      500 internal_error
    ├── AuthError                     401 unauthenticated      (token missing/invalid; no detail)
    ├── InsufficientScope             403 insufficient_scope
    ├── Denied                        403 denied               (policy said no; "not permitted")
    ├── NotFound                      404 not_found            (unknown tool looks like this to
    │                                                           a caller who may not see it: Denied)
    ├── InvalidArguments              422 invalid_arguments
    ├── RateLimited                   429 rate_limited         (carries retry_after seconds)
    ├── Unavailable                   503 unavailable          (maintenance, kill switch)
    ├── AuditUnavailable              503 audit_unavailable    (journal not durable: fail closed)
    ├── ToolTimeout                   504 tool_timeout         (the tool's own deadline)
    ├── UpstreamFailure
    │   ├── UpstreamUnavailable       502 upstream_unavailable (connect refused, breaker open)
    │   ├── UpstreamTimeout           504 upstream_timeout
    │   └── UpstreamError             502 upstream_error       (5xx, garbage, oversized, redirect)
    └── ResultTooLarge                502 result_too_large

    StartupError                      (start-up only; never reaches the agent)
    └── ConfigError                   (invalid configuration; ``key`` names the setting)

    PolicyError                       (policy load/validation; never reaches the agent)

The agent-facing classes form the failure catalog (:data:`CATALOG`): each maps, once, to an
HTTP status, a stable error ``code``, the ``audit_reason`` the pipeline writes into the call's
audit record (``None``: the policy decision's own reasons say it), a safe ``default_message``
and a ``hint`` (what the agent should change). The docs' error table is generated from it
(``python -m gateway.reference``).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

__all__ = [
    "CATALOG",
    "AuditUnavailable",
    "AuthError",
    "ConfigError",
    "Denied",
    "Failure",
    "GatewayError",
    "InsufficientScope",
    "InvalidArguments",
    "NotFound",
    "PolicyError",
    "RateLimited",
    "ResultTooLarge",
    "StartupError",
    "ToolTimeout",
    "Unavailable",
    "UpstreamError",
    "UpstreamFailure",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "catalog",
]


class GatewayError(Exception):
    """Base of every error labgate raises on purpose.

    ``detail`` is the safe message for the agent; ``internal`` is for logs and audit only.
    """

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    #: The reason code (gateway/policy/reasons.py) the call's audit record carries.
    audit_reason: ClassVar[str | None] = "internal-error"
    default_message: ClassVar[str] = "The request could not be completed."
    #: What the agent should change (the docs' error table).
    hint: ClassVar[str] = "A labgate fault; the operator sees it in the logs under `request_id`."

    def __init__(self, detail: str | None = None, *, internal: str | None = None) -> None:
        self.detail = detail or self.default_message
        self.internal = internal
        super().__init__(internal or self.detail)


class AuthError(GatewayError):
    status = 401
    code = "unauthenticated"
    audit_reason = "unauthenticated"
    default_message = "A valid bearer token is required."
    hint = (
        "HTTP 401 before any tool is considered: send a valid bearer token "
        "(`WWW-Authenticate` names the resource metadata)."
    )

    def __init__(self, reason: str = "invalid-token", *, internal: str | None = None) -> None:
        # ``reason`` is a stable kebab-case string for the audit log; never shown in detail.
        self.reason = reason
        super().__init__(None, internal=internal or reason)


class InsufficientScope(GatewayError):
    status = 403
    code = "insufficient_scope"
    audit_reason = None  # refused per MCP request, before any call
    default_message = "The token lacks the scope this endpoint requires."
    hint = "HTTP 403 on `/mcp`: the token lacks the scope the operator requires for MCP."


class Denied(GatewayError):
    status = 403
    code = "denied"
    audit_reason = None  # the decision's reasons
    default_message = "not permitted"
    hint = (
        "Nothing to retry: the policy does not permit this call (an unknown tool looks the same)."
    )


class NotFound(GatewayError):
    status = 404
    code = "not_found"
    audit_reason = "not-found"
    default_message = "No such item."
    hint = (
        "The item does not exist or is outside what the policy lets this caller see (the two "
        "look the same)."
    )


class InvalidArguments(GatewayError):
    status = 422
    code = "invalid_arguments"
    audit_reason = "invalid-arguments"
    default_message = "The arguments do not match the tool's schema."
    hint = "Fix the arguments; `errors` locates each problem (never echoing the input)."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, object]] | None = None,
        internal: str | None = None,
    ) -> None:
        self.errors = errors or []
        super().__init__(detail, internal=internal)


class RateLimited(GatewayError):
    status = 429
    code = "rate_limited"
    audit_reason = "rate-limited"
    default_message = "Too many calls; retry later."
    hint = "Wait `retry_after` seconds."

    def __init__(self, retry_after: float, *, internal: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(f"Too many calls; retry in {self.retry_after} s.", internal=internal)


class Unavailable(GatewayError):
    status = 503
    code = "unavailable"
    audit_reason = None  # the decision's reasons: kill-switch or maintenance
    default_message = "The gateway is not accepting calls right now."
    hint = "The operator paused agent access (maintenance or kill switch); retry later."


class AuditUnavailable(GatewayError):
    status = 503
    code = "audit_unavailable"
    audit_reason = None  # the record that would carry it is the one that could not be written
    default_message = "The audit log cannot be written; no call is served until it can."
    hint = "labgate cannot record calls right now and serves none; retry later."


class ToolTimeout(GatewayError):
    status = 504
    code = "tool_timeout"
    audit_reason = "tool-timeout"
    default_message = "The tool did not finish in time; retry later or narrow the request."
    hint = (
        "The tool did not finish within the gateway's `tool_timeout_seconds`; retry later or "
        "narrow the request."
    )


class UpstreamFailure(GatewayError):
    """Base of upstream failures; ``upstream`` names the configured upstream."""

    status = 502
    code = "upstream_error"
    audit_reason = "upstream-error"

    def __init__(
        self, upstream: str, detail: str | None = None, *, internal: str | None = None
    ) -> None:
        self.upstream = upstream
        super().__init__(detail, internal=internal)


class UpstreamUnavailable(UpstreamFailure):
    status = 502
    code = "upstream_unavailable"
    audit_reason = "upstream-unavailable"
    default_message = "The service behind this tool is unreachable; retry later."
    hint = "The service behind the tool is unreachable (or its breaker is open); retry later."


class UpstreamTimeout(UpstreamFailure):
    status = 504
    code = "upstream_timeout"
    audit_reason = "upstream-timeout"
    default_message = "The service behind this tool did not answer in time; retry later."
    hint = "The service behind the tool did not answer in time; retry later or narrow the request."


class UpstreamError(UpstreamFailure):
    status = 502
    code = "upstream_error"
    audit_reason = "upstream-error"
    default_message = "The service behind this tool gave an unusable answer."
    hint = "The service behind the tool gave an unusable answer; retry later or narrow the request."


class ResultTooLarge(GatewayError):
    status = 502
    code = "result_too_large"
    audit_reason = "result-too-large"
    default_message = "The result is too large; narrow the request or use a smaller page size."
    hint = "Ask for less: a smaller page size or a narrower query."


#: Every failure an agent can see, in the order the docs list them.
CATALOG: tuple[type[GatewayError], ...] = (
    AuthError,
    InsufficientScope,
    Denied,
    NotFound,
    InvalidArguments,
    RateLimited,
    GatewayError,
    UpstreamUnavailable,
    UpstreamError,
    ResultTooLarge,
    Unavailable,
    AuditUnavailable,
    UpstreamTimeout,
    ToolTimeout,
)


class Failure(NamedTuple):
    """One row of the catalog."""

    status: int
    code: str
    audit_reason: str | None
    message: str
    hint: str


def catalog() -> list[Failure]:
    """The catalog as rows: status, code, audit reason, safe message, hint."""
    return [Failure(c.status, c.code, c.audit_reason, c.default_message, c.hint) for c in CATALOG]


class StartupError(Exception):
    """The process cannot start (never an agent's answer: no status, no code)."""

    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(message)


class ConfigError(StartupError):
    """Invalid configuration at start-up. ``key`` names the offending setting."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


class PolicyError(Exception):
    """A policy file or set that cannot be loaded. ``file``/``line`` locate it when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.location() + message)

    def location(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line or 1}: "
