"""Reading the bearer token out of the ``Authorization`` header (RFC 6750 section 2.1).

The scheme is case-insensitive (RFC 9110 section 11.1); the credential is one ``token68``.
Anything else, including a second ``Authorization`` header, is refused rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.auth.reasons import AuthReason, fail

__all__ = ["bearer_token"]

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _authorization_values(headers: Mapping[str, str]) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):  # starlette Headers: sees repeated headers
        values = getlist("authorization")
        return [str(v) for v in values]
    for name, value in headers.items():
        if name.lower() == "authorization":
            return [value]
    return []


def bearer_token(headers: Mapping[str, str], max_bytes: int) -> str:
    """The token of a ``Bearer`` credential, or :class:`AuthError`.

    The size cap applies to the raw header, before anything else looks at it.
    """
    values = _authorization_values(headers)
    if not values:
        raise fail(AuthReason.MISSING_TOKEN, "no Authorization header")
    if len(values) > 1:
        raise fail(AuthReason.MALFORMED_TOKEN, "more than one Authorization header")
    value = values[0]
    if len(value.encode("utf-8", "surrogatepass")) > max_bytes + len("Bearer "):
        raise fail(AuthReason.TOKEN_TOO_LARGE)
    scheme, _, credential = value.strip(" \t").partition(" ")
    if scheme.lower() != "bearer":
        raise fail(AuthReason.MISSING_TOKEN, "not a Bearer credential")
    credential = credential.strip(" \t")
    if not credential:
        raise fail(AuthReason.MISSING_TOKEN, "empty Bearer credential")
    if not _TOKEN68.fullmatch(credential):
        raise fail(AuthReason.MALFORMED_TOKEN, "credential is not a single token68")
    return credential
