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
    ├── ToolTimeout                   504 upstream_timeout     (the tool's own deadline)
    ├── UpstreamFailure
    │   ├── UpstreamUnavailable       502 upstream_unavailable (connect refused, breaker open)
    │   ├── UpstreamTimeout           504 upstream_timeout
    │   └── UpstreamError             502 upstream_error       (5xx, garbage, oversized, redirect)
    ├── ResultTooLarge                502 result_too_large
    └── ConfigError                   (start-up only; never reaches the agent)

    PolicyError                       (policy load/validation; never reaches the agent)
"""

from __future__ import annotations

__all__ = [
    "AuditUnavailable",
    "AuthError",
    "ConfigError",
    "Denied",
    "GatewayError",
    "InsufficientScope",
    "InvalidArguments",
    "NotFound",
    "PolicyError",
    "RateLimited",
    "ResultTooLarge",
    "ToolTimeout",
    "Unavailable",
    "UpstreamError",
    "UpstreamFailure",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class GatewayError(Exception):
    """Base of every error labgate raises on purpose.

    ``detail`` is the safe message for the agent; ``internal`` is for logs and audit only.
    """

    status: int = 500
    code: str = "internal_error"
    default_message: str = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, internal: str | None = None) -> None:
        self.detail = detail or self.default_message
        self.internal = internal
        super().__init__(internal or self.detail)


class AuthError(GatewayError):
    status = 401
    code = "unauthenticated"
    default_message = "A valid bearer token is required."

    def __init__(self, reason: str = "invalid-token", *, internal: str | None = None) -> None:
        # ``reason`` is a stable kebab-case string for the audit log; never shown in detail.
        self.reason = reason
        super().__init__(None, internal=internal or reason)


class InsufficientScope(GatewayError):
    status = 403
    code = "insufficient_scope"
    default_message = "The token lacks the scope this endpoint requires."


class Denied(GatewayError):
    status = 403
    code = "denied"
    default_message = "not permitted"


class NotFound(GatewayError):
    status = 404
    code = "not_found"
    default_message = "No such item."


class InvalidArguments(GatewayError):
    status = 422
    code = "invalid_arguments"
    default_message = "The arguments do not match the tool's schema."

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
    default_message = "Too many calls; retry later."

    def __init__(self, retry_after: float, *, internal: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(f"Too many calls; retry in {self.retry_after} s.", internal=internal)


class Unavailable(GatewayError):
    status = 503
    code = "unavailable"
    default_message = "The gateway is not accepting calls right now."


class AuditUnavailable(GatewayError):
    status = 503
    code = "audit_unavailable"
    default_message = "The audit log cannot be written; no call is served until it can."


class ToolTimeout(GatewayError):
    status = 504
    code = "upstream_timeout"
    default_message = "The tool did not finish in time; retry later or narrow the request."


class UpstreamFailure(GatewayError):
    """Base of upstream failures; ``upstream`` names the configured upstream."""

    status = 502
    code = "upstream_error"

    def __init__(
        self, upstream: str, detail: str | None = None, *, internal: str | None = None
    ) -> None:
        self.upstream = upstream
        super().__init__(detail, internal=internal)


class UpstreamUnavailable(UpstreamFailure):
    status = 502
    code = "upstream_unavailable"
    default_message = "The service behind this tool is unreachable; retry later."


class UpstreamTimeout(UpstreamFailure):
    status = 504
    code = "upstream_timeout"
    default_message = "The service behind this tool did not answer in time; retry later."


class UpstreamError(UpstreamFailure):
    status = 502
    code = "upstream_error"
    default_message = "The service behind this tool gave an unusable answer."


class ResultTooLarge(GatewayError):
    status = 502
    code = "result_too_large"
    default_message = "The result is too large; narrow the request or use a smaller page size."


class ConfigError(GatewayError):
    """Invalid configuration at start-up. ``key`` names the offending setting."""

    code = "config_error"

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message, internal=message)


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
