"""Verifying a compact JWS access token: structure, header, key, signature, claims - in that order.

Everything that can be checked without a key is checked before any key is looked up, and the
header is judged before the signature: the size cap, three base64url segments (a five-part JWE
is refused), the ``alg`` allow-list, no ``jku``/``x5u``/``jwk``/``x5c``/``crit`` ever. The key is
chosen by ``kid`` from the configured key set only and must fit ``alg``. The signature is checked
with joserfc (Authlib's JOSE implementation) given that one key explicitly. The claims are
checked here, by exact comparison, not by a library's defaults.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError

from gateway.auth.jwks import KeySource
from gateway.auth.keys import VerifyKey
from gateway.auth.reasons import AuthReason, fail

__all__ = [
    "FORBIDDEN_HEADERS",
    "MAX_NUMERIC_DATE",
    "JwtVerifier",
    "VerifierConfig",
    "decode_segment",
]

#: Header parameters that would let the token choose its own key, or that we do not implement.
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "b64", "zip", "enc", "epk"})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_KID = 256
#: The largest ``exp``/``nbf``/``iat`` magnitude accepted: 9999-12-31T23:59:59Z. A NumericDate
#: beyond it means nothing and, as an integer, does not fit a float: it is a malformed claim.
MAX_NUMERIC_DATE = 253_402_300_799


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    issuer: str
    audience: Sequence[str]
    algorithms: Sequence[str]
    allowed_clients: Sequence[str] = ()
    #: Clock skew allowed for ``nbf`` and ``iat`` (a token minted "in the future").
    leeway_seconds: int = 30
    #: Grace after ``exp``; 0: an expired token stops at once.
    exp_leeway_seconds: int = 0
    max_token_bytes: int = 8192


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def decode_segment(segment: str) -> dict[str, Any]:
    """A base64url (unpadded) JSON object; duplicate members are refused, not last-wins."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, object_pairs_hook=_reject_duplicates)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise fail(AuthReason.MALFORMED_TOKEN, "segment is not base64url JSON") from None
    if not isinstance(value, dict):
        raise fail(AuthReason.MALFORMED_TOKEN, "segment is not a JSON object")
    return value


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(AuthReason.MALFORMED_CLAIM, f"{name} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(AuthReason.MALFORMED_CLAIM, f"{name} is not finite")
    if not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:  # exact for ints of any size
        raise fail(AuthReason.MALFORMED_CLAIM, f"{name} is out of range")
    return float(value)


class JwtVerifier:
    """Verifies tokens against one issuer's keys; returns the claims of a good token."""

    def __init__(
        self,
        config: VerifierConfig,
        keys: KeySource,
        *,
        hmac_key: VerifyKey | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._keys = keys
        self._hmac_key = hmac_key
        self._clock = clock

    async def verify(self, token: str) -> dict[str, Any]:
        header = self._parse(token)
        alg = header["alg"]
        key = await self._key_for(header, alg)
        try:
            signature = jws.deserialize_compact(token, key, algorithms=[alg])
        except BadSignatureError:
            raise fail(AuthReason.BAD_SIGNATURE) from None
        except JoseError as exc:
            raise fail(AuthReason.MALFORMED_TOKEN, type(exc).__name__) from None
        claims = decode_segment(token.split(".")[1])
        if signature.headers() != header:  # the verified header is the one judged above
            raise fail(AuthReason.MALFORMED_TOKEN, "header changed between checks")
        self._check_claims(claims)
        return claims

    def _parse(self, token: str) -> dict[str, Any]:
        if len(token) > self._config.max_token_bytes:
            raise fail(AuthReason.TOKEN_TOO_LARGE)
        parts = token.split(".")
        if len(parts) == 5:
            raise fail(AuthReason.MALFORMED_TOKEN, "JWE (five segments) is not accepted")
        if len(parts) != 3 or not all(_SEGMENT.fullmatch(p) for p in parts[:2]):
            raise fail(AuthReason.MALFORMED_TOKEN, "not three base64url segments")
        header = decode_segment(parts[0])
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._config.algorithms:
            raise fail(AuthReason.ALG_NOT_ALLOWED, f"alg {str(alg)[:20]!r}")
        present = FORBIDDEN_HEADERS.intersection(header)
        if present:
            raise fail(AuthReason.FORBIDDEN_HEADER, ",".join(sorted(present)))
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID):
            raise fail(AuthReason.MALFORMED_TOKEN, "kid is not a short string")
        if not _SEGMENT.fullmatch(parts[2]):  # judged after alg, so `alg: none` says so
            raise fail(AuthReason.MALFORMED_TOKEN, "signature is not base64url")
        return header

    async def _key_for(self, header: dict[str, Any], alg: str) -> VerifyKey:
        if alg == "HS256":
            if self._hmac_key is None:
                raise fail(AuthReason.ALG_NOT_ALLOWED, "HS256 without a configured secret")
            return self._hmac_key
        kid = header.get("kid")
        ring = await self._keys.ring_for(kid)
        return ring.select(kid, alg)

    def _check_claims(self, claims: dict[str, Any]) -> None:
        cfg = self._config
        now = self._clock()
        iss = claims.get("iss")
        if iss is None:
            raise fail(AuthReason.MISSING_CLAIM, "iss")
        if not isinstance(iss, str) or iss != cfg.issuer:
            raise fail(AuthReason.BAD_ISSUER)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise fail(AuthReason.MISSING_CLAIM, "sub")
        exp = _number(claims, "exp")
        if exp is None:
            raise fail(AuthReason.MISSING_CLAIM, "exp")
        if now - cfg.exp_leeway_seconds >= exp:
            raise fail(AuthReason.EXPIRED)
        nbf = _number(claims, "nbf")
        if nbf is not None and now + cfg.leeway_seconds < nbf:
            raise fail(AuthReason.NOT_YET_VALID, "nbf in the future")
        iat = _number(claims, "iat")
        if iat is not None and now + cfg.leeway_seconds < iat:
            raise fail(AuthReason.NOT_YET_VALID, "iat in the future")
        self._check_audience(claims.get("aud"))
        self._check_client(claims)

    def _check_audience(self, aud: object) -> None:
        if aud is None:
            raise fail(AuthReason.MISSING_CLAIM, "aud")
        values = [aud] if isinstance(aud, str) else aud
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise fail(AuthReason.MALFORMED_CLAIM, "aud")
        if not set(values).intersection(self._config.audience):
            raise fail(AuthReason.BAD_AUDIENCE)

    def _check_client(self, claims: dict[str, Any]) -> None:
        azp, client_id = claims.get("azp"), claims.get("client_id")
        for value in (azp, client_id):
            if value is not None and not isinstance(value, str):
                raise fail(AuthReason.MALFORMED_CLAIM, "azp/client_id")
        if azp is not None and client_id is not None and azp != client_id:
            raise fail(AuthReason.BAD_CLIENT, "azp and client_id differ")
        client = azp if azp is not None else client_id
        allowed = self._config.allowed_clients
        if allowed and client is None:
            raise fail(AuthReason.MISSING_CLAIM, "azp/client_id")
        if allowed and client not in allowed:
            raise fail(AuthReason.BAD_CLIENT)
