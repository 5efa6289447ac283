"""From verified claims (or trusted headers) to a :class:`gateway.capability.Principal`.

Authentik puts the client in ``azp`` and the token id in ``uid``; RFC 9068 providers use
``client_id`` and ``jti``. Both are read. Claim values of the wrong type are refused rather
than coerced, so a policy never matches on something the issuer did not say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.auth.reasons import AuthReason, fail
from gateway.capability import Principal

__all__ = ["MAX_LIST_ITEMS", "check_required_groups", "principal_from_claims", "string_list"]

MAX_LIST_ITEMS = 256


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(AuthReason.MALFORMED_CLAIM, name)
    return value


def string_list(value: object, name: str) -> tuple[str, ...]:
    """A claim that is a list of strings (a lone string counts as a list of one)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise fail(AuthReason.MALFORMED_CLAIM, name)
    if len(items) > MAX_LIST_ITEMS:
        raise fail(AuthReason.MALFORMED_CLAIM, f"{name} has too many items")
    return tuple(dict.fromkeys(v for v in items if v))


def _scopes(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(dict.fromkeys(s for s in value.split(" ") if s))
    return string_list(value, "scope")


def principal_from_claims(claims: Mapping[str, Any], issuer: str | None) -> Principal:
    entitlements = string_list(claims.get("entitlements"), "entitlements") + string_list(
        claims.get("roles"), "roles"
    )
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise fail(AuthReason.MISSING_CLAIM, "sub")
    return Principal(
        sub=sub,
        client_id=_optional_str(claims, "azp") or _optional_str(claims, "client_id"),
        username=_optional_str(claims, "preferred_username"),
        groups=string_list(claims.get("groups"), "groups"),
        entitlements=tuple(dict.fromkeys(entitlements)),
        token_id=_optional_str(claims, "uid") or _optional_str(claims, "jti"),
        issuer=issuer,
        scopes=_scopes(claims.get("scope")),
    )


def check_required_groups(principal: Principal, required: Sequence[str]) -> None:
    """With ``required`` set, the principal must be in at least one of those groups."""
    if required and not set(principal.groups).intersection(required):
        raise fail(AuthReason.MISSING_GROUP)
