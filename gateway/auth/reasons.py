"""Why authentication failed: stable kebab-case codes for the audit log.

The agent never sees these (it gets a plain 401); operators filter on them in Grafana, so a
value once shipped is never renamed.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.errors import AuthError

__all__ = ["AuthReason", "fail"]


class AuthReason(StrEnum):
    # the Authorization header
    MISSING_TOKEN = "missing-token"  # noqa: S105 (a reason code)
    MALFORMED_TOKEN = "malformed-token"  # noqa: S105 (a reason code)
    TOKEN_TOO_LARGE = "token-too-large"  # noqa: S105 (a reason code)
    # the JOSE header and the key
    ALG_NOT_ALLOWED = "alg-not-allowed"
    FORBIDDEN_HEADER = "forbidden-header"
    UNKNOWN_KEY = "unknown-key"
    KEY_MISMATCH = "key-mismatch"
    BAD_SIGNATURE = "bad-signature"
    # the claims
    BAD_ISSUER = "bad-issuer"
    BAD_AUDIENCE = "bad-audience"
    BAD_CLIENT = "bad-client"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    MISSING_CLAIM = "missing-claim"
    MALFORMED_CLAIM = "malformed-claim"
    MISSING_GROUP = "missing-group"
    # checks beyond the token
    REVOKED = "revoked"
    INTROSPECTION_UNAVAILABLE = "introspection-unavailable"
    ISSUER_UNREACHABLE = "issuer-unreachable"
    UNTRUSTED_PROXY = "untrusted-proxy"
    # before any check: too many unauthenticated attempts from this client address
    RATE_LIMITED = "rate-limited"


def fail(reason: AuthReason, internal: str | None = None) -> AuthError:
    """An :class:`AuthError` for ``reason``; ``internal`` (logs only) must hold no token text."""
    detail = f"{reason.value}: {internal}" if internal else reason.value
    return AuthError(reason.value, internal=detail)
