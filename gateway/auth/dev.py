"""Dev mode (demo only): a local key pair that mints tokens, and an authenticator that trusts it.

The tokens are ordinary ES256 (or RS256) JWTs checked by the same verifier as production,
with the key ring fixed and no network. Dev mode is refused on any bind that is not loopback.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from gateway.auth.jwks import StaticKeys
from gateway.auth.jwt import JwtVerifier, VerifierConfig
from gateway.auth.keys import KeyRing
from gateway.auth.oidc import BearerAuthenticator
from gateway.auth.settings import DevSettings
from gateway.errors import ConfigError

__all__ = ["DevIssuer", "ensure_loopback"]

_MAX_TOKEN_BYTES = 8192


def ensure_loopback(host: str) -> None:
    """Raise :class:`ConfigError` unless ``host`` is a loopback address or ``localhost``."""
    name = host.strip().strip("[]").lower()
    if name in {"localhost", "localhost."}:
        return
    try:
        loopback = ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"dev auth mode is refused on the non-loopback bind {host!r}", key="auth.mode"
        )


def _load(path: Path) -> ECKey | RSAKey:
    try:
        private = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a readable PEM private key", key="auth.dev.key_file"
        ) from exc
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1":
        return ECKey.import_key(private)
    if isinstance(private, rsa.RSAPrivateKey) and private.key_size >= 2048:
        return RSAKey.import_key(private)
    raise ConfigError(f"{path}: need an EC P-256 or RSA >= 2048 key", key="auth.dev.key_file")


def _load_or_create(path: Path) -> ECKey | RSAKey:
    """Load the key; create it (mode 0600) when missing. Two processes racing share one key."""
    if path.exists():
        return _load(path)
    key = ECKey.generate_key("P-256")
    pem = key.as_pem(private=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        os.link(partial, path)  # atomic, and fails if another process created it first
    except FileExistsError:
        return _load(path)
    finally:
        partial.unlink()
    return key


class DevIssuer:
    def __init__(
        self,
        key: ECKey | RSAKey,
        *,
        issuer: str = "http://127.0.0.1/dev/",
        audience: str = "labgate",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience
        self.alg = "ES256" if isinstance(key, ECKey) else "RS256"
        key.ensure_kid()  # the RFC 7638 thumbprint
        self.kid = key.kid or ""
        self._clock = clock

    @classmethod
    def generate(cls, kind: Literal["EC", "RSA"] = "EC", **kwargs: Any) -> DevIssuer:
        key = ECKey.generate_key("P-256") if kind == "EC" else RSAKey.generate_key(2048)
        return cls(key, **kwargs)

    @classmethod
    def from_settings(cls, settings: DevSettings) -> DevIssuer:
        key = (
            _load_or_create(settings.key_file)
            if settings.key_file is not None
            else ECKey.generate_key("P-256")
        )
        return cls(key, issuer=settings.issuer, audience=settings.audience)

    def mint(
        self,
        sub: str,
        *,
        client_id: str = "hermes",
        groups: Sequence[str] = (),
        ttl: int = 3600,
        audience: str | Sequence[str] | None = None,
        username: str | None = None,
        entitlements: Sequence[str] = (),
        scope: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience if audience is None else audience,
            "azp": client_id,
            "iat": now,
            "exp": now + ttl,
            "uid": uuid.uuid4().hex,
            "groups": list(groups),
        }
        if username is not None:
            claims["preferred_username"] = username
        if entitlements:
            claims["entitlements"] = list(entitlements)
        if scope is not None:
            claims["scope"] = scope
        claims.update(extra or {})
        header = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.key, algorithms=[self.alg])

    def jwks(self) -> dict[str, Any]:
        public = dict(self.key.as_dict(private=False))
        public.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return {"keys": [public]}

    def authenticator(self, *, clock: Callable[[], float] = time.time) -> BearerAuthenticator:
        ring = KeyRing.from_jwks(self.jwks())
        verifier = JwtVerifier(
            VerifierConfig(
                issuer=self.issuer,
                audience=(self.audience,),
                algorithms=(self.alg,),
                max_token_bytes=_MAX_TOKEN_BYTES,
            ),
            StaticKeys(ring),
            clock=clock,
        )
        return BearerAuthenticator(verifier, issuer=self.issuer, max_token_bytes=_MAX_TOKEN_BYTES)
