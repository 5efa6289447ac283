"""A verified set of public keys, and choosing the one key a token may be checked with.

Keys come only from the configured JWKS (or the dev issuer, or the HS256 secret file), never
from the token. The key is picked by ``kid`` here, and its type must fit the token's ``alg``:
an RSA public key is never used as an HMAC secret, an EC P-256 key never verifies ES384.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OctKey, OKPKey, RSAKey

from gateway.auth.reasons import AuthReason, fail

__all__ = ["MIN_RSA_BITS", "KeyRing", "VerifyKey", "key_fits_alg"]

log = logging.getLogger(__name__)

VerifyKey = RSAKey | ECKey | OctKey
MIN_RSA_BITS = 2048
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def key_fits_alg(key: VerifyKey, alg: str) -> bool:
    """True when ``key`` is of the one type ``alg`` is defined for."""
    declared = key.get("alg")
    if declared is not None and declared != alg:
        return False
    if alg.startswith(("RS", "PS")):
        return isinstance(key, RSAKey)
    if alg in _EC_CURVES:
        return isinstance(key, ECKey) and key.get("crv") == _EC_CURVES[alg]
    if alg == "HS256":
        return isinstance(key, OctKey)
    return False


def _public_key(entry: Mapping[str, Any]) -> VerifyKey | None:
    """One JWKS entry as a public verification key, or None when it must not be used."""
    if entry.get("use", "sig") != "sig":
        return None
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    if entry.get("kty") not in {"RSA", "EC"}:  # never a symmetric or unknown key from a JWKS
        return None
    public = {k: v for k, v in entry.items() if k not in {"d", "p", "q", "dp", "dq", "qi", "oth"}}
    try:
        key = JWKRegistry.import_key(public)
    except (JoseError, ValueError, TypeError) as exc:
        log.warning("ignoring an unusable JWKS entry: %s", type(exc).__name__)
        return None
    if isinstance(key, OKPKey | OctKey):
        return None
    if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        log.warning("ignoring an RSA JWKS entry shorter than %d bits", MIN_RSA_BITS)
        return None
    return key


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Immutable: a refresh builds a new ring and swaps it in whole."""

    by_kid: Mapping[str, VerifyKey] = field(default_factory=dict)
    unnamed: tuple[VerifyKey, ...] = ()

    @classmethod
    def from_jwks(cls, document: object) -> KeyRing:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWK Set")
        by_kid: dict[str, VerifyKey] = {}
        unnamed: list[VerifyKey] = []
        for entry in document["keys"]:
            if not isinstance(entry, dict):
                continue
            key = _public_key(entry)
            if key is None:
                continue
            kid = entry.get("kid")
            if isinstance(kid, str) and kid:
                by_kid.setdefault(kid, key)
            else:
                unnamed.append(key)
        return cls(by_kid=by_kid, unnamed=tuple(unnamed))

    @classmethod
    def of(cls, keys: Mapping[str, VerifyKey]) -> KeyRing:
        return cls(by_kid=dict(keys))

    def __len__(self) -> int:
        return len(self.by_kid) + len(self.unnamed)

    def has(self, kid: str | None) -> bool:
        return kid in self.by_kid if kid is not None else len(self) > 0

    def select(self, kid: str | None, alg: str) -> VerifyKey:
        """The key for ``kid`` that fits ``alg``; without a kid, the only key that fits."""
        if kid is not None:
            key = self.by_kid.get(kid)
            if key is None:
                raise fail(AuthReason.UNKNOWN_KEY, "no key with this kid")
            if not key_fits_alg(key, alg):
                raise fail(AuthReason.KEY_MISMATCH, f"key type does not fit {alg}")
            return key
        fitting = [k for k in (*self.by_kid.values(), *self.unnamed) if key_fits_alg(k, alg)]
        if len(fitting) != 1:
            raise fail(AuthReason.UNKNOWN_KEY, "no kid and not exactly one fitting key")
        return fitting[0]
