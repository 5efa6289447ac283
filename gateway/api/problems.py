"""RFC 9457 problem+json answers, built only from GatewayError's safe fields."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from gateway.errors import AuthError, GatewayError, InsufficientScope, InvalidArguments, RateLimited

__all__ = ["PROBLEM_SCHEMA", "PROBLEM_TYPE", "problem_body", "problem_response"]

PROBLEM_TYPE = "urn:labgate:problem:"
MEDIA_TYPE = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "retry_after": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail", "code"],
}


def problem_body(exc: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + exc.code,
        "title": exc.code.replace("_", " "),
        "status": exc.status,
        "detail": exc.detail,
        "code": exc.code,
        "request_id": request_id,
    }
    if isinstance(exc, RateLimited):
        body["retry_after"] = exc.retry_after
    if isinstance(exc, InvalidArguments) and exc.errors:
        body["errors"] = exc.errors
    return body


def problem_response(
    exc: GatewayError, request_id: str | None = None, *, resource_metadata: str | None = None
) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, AuthError):
        value = 'Bearer realm="labgate"'
        if exc.reason != "missing-token":
            value += ', error="invalid_token"'
        if resource_metadata:
            value += f', resource_metadata="{resource_metadata}"'
        headers["WWW-Authenticate"] = value
    if isinstance(exc, InsufficientScope):
        headers["WWW-Authenticate"] = 'Bearer realm="labgate", error="insufficient_scope"'
    if request_id:
        headers["X-Request-Id"] = request_id
    return JSONResponse(
        problem_body(exc, request_id),
        status_code=exc.status,
        headers=headers,
        media_type=MEDIA_TYPE,
    )
