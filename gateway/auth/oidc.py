"""The bearer-token authenticator: header -> verified JWT -> Principal (-> introspection).

Used for Authentik in production (keys from the issuer's JWKS) and, with a fixed key ring,
by the dev issuer. Its requests to the identity provider go through gateway.upstream
(:mod:`gateway.auth.egress`); it owns those clients and closes them in ``aclose``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import httpx
from joserfc.jwk import OctKey

from gateway.auth.bearer import bearer_token
from gateway.auth.egress import IdpEgress
from gateway.auth.introspection import Introspector, introspection_egress
from gateway.auth.jwks import RemoteJwks, Sleep, jwks_egress
from gateway.auth.jwt import JwtVerifier, VerifierConfig
from gateway.auth.principal import check_required_groups, principal_from_claims
from gateway.auth.settings import OidcSettings
from gateway.capability import Principal
from gateway.errors import ConfigError
from gateway.secrets import read_secret_file
from gateway.telemetry import Telemetry

__all__ = ["MIN_HMAC_SECRET_BYTES", "BearerAuthenticator", "build_oidc"]

#: A successfully verified token is remembered this long (never past its ``exp``), so a busy
#: agent does not pay a signature check per call. Entries: bounded, least recently used first.
VERIFIED_CACHE_SECONDS = 60.0
VERIFIED_CACHE_ENTRIES = 4096
MIN_HMAC_SECRET_BYTES = 32


class BearerAuthenticator:
    def __init__(
        self,
        verifier: JwtVerifier,
        *,
        issuer: str,
        max_token_bytes: int,
        required_groups: Sequence[str] = (),
        introspector: Introspector | None = None,
        jwks: RemoteJwks | None = None,
        egress: Sequence[IdpEgress] = (),
        cache_seconds: float = VERIFIED_CACHE_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._verifier = verifier
        self._issuer = issuer
        self._max_token_bytes = max_token_bytes
        self._required_groups = tuple(required_groups)
        self._introspector = introspector
        self.jwks = jwks
        self._egress = tuple(egress)
        self._wall = wall_clock
        self._cache_seconds = cache_seconds
        #: token -> (principal, exp, key ring it was verified with, cached until)
        self._verified: OrderedDict[str, tuple[Principal, float, object, float]] = OrderedDict()

    async def start(self) -> None:
        if self.jwks is not None:
            await self.jwks.start()

    async def aclose(self) -> None:
        if self.jwks is not None:
            await self.jwks.aclose()
        for egress in self._egress:
            await egress.aclose()

    async def authenticate(self, headers: Mapping[str, str], client_host: str | None) -> Principal:
        token = bearer_token(headers, self._max_token_bytes)
        principal = self._cached(token)
        if principal is None:
            claims = await self._verifier.verify(token)
            principal = principal_from_claims(claims, self._issuer)
            check_required_groups(principal, self._required_groups)
            self._remember(token, principal, claims.get("exp"))
        if self._introspector is not None:
            await self._introspector.check(token)  # revocation: asked every time (own cache)
        return principal

    def _ring(self) -> object:
        return self.jwks.ring if self.jwks is not None else None

    def _cached(self, token: str) -> Principal | None:
        """A principal verified from these exact bytes a moment ago, still unexpired, under
        the same key set (a JWKS refetch, e.g. a key rotation, empties the cache)."""
        entry = self._verified.get(token)
        if entry is None:
            return None
        principal, exp, ring, until = entry
        now = self._wall()
        if now >= exp or now >= until or ring is not self._ring():
            del self._verified[token]
            return None
        self._verified.move_to_end(token)
        return principal

    def _remember(self, token: str, principal: Principal, exp: object) -> None:
        if self._cache_seconds <= 0 or not isinstance(exp, int | float):
            return
        self._verified[token] = (
            principal,
            float(exp),
            self._ring(),
            self._wall() + self._cache_seconds,
        )
        while len(self._verified) > VERIFIED_CACHE_ENTRIES:
            self._verified.popitem(last=False)


def _hmac_key(settings: OidcSettings) -> OctKey | None:
    if settings.hs256_secret_file is None:
        return None
    secret = read_secret_file(settings.hs256_secret_file, "auth.oidc.hs256_secret_file")
    if len(secret.encode("utf-8")) < MIN_HMAC_SECRET_BYTES:
        raise ConfigError(
            f"auth.oidc.hs256_secret_file: need at least {MIN_HMAC_SECRET_BYTES} bytes of secret",
            key="auth.oidc.hs256_secret_file",
        )
    return OctKey.import_key(secret.encode("utf-8"))


def build_oidc(
    settings: OidcSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    telemetry: Telemetry | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> BearerAuthenticator:
    """``transport`` replaces the network under the guarded clients (tests); ``monotonic``
    and ``sleep`` pace JWKS fetches, the breakers and the introspection cache (injectable
    for tests)."""
    hmac_key = _hmac_key(settings)
    introspection = settings.introspection
    introspection_secret = (
        read_secret_file(introspection.client_secret_file, "auth.oidc.introspection")
        if introspection is not None
        else None
    )
    egress = [jwks_egress(settings, transport=transport, telemetry=telemetry, clock=monotonic)]
    jwks = RemoteJwks(settings, egress[0], clock=monotonic, sleep=sleep)
    introspector = None
    if introspection is not None and introspection_secret is not None:
        egress.append(
            introspection_egress(
                introspection, transport=transport, telemetry=telemetry, clock=monotonic
            )
        )
        introspector = Introspector(introspection, egress[1], introspection_secret, clock=monotonic)
    verifier = JwtVerifier(
        VerifierConfig(
            issuer=settings.issuer,
            audience=tuple(settings.audience),
            algorithms=tuple(settings.algorithms),
            allowed_clients=tuple(settings.allowed_clients),
            leeway_seconds=settings.leeway_seconds,
            exp_leeway_seconds=settings.exp_leeway_seconds,
            max_token_bytes=settings.max_token_bytes,
        ),
        jwks,
        hmac_key=hmac_key,
    )
    return BearerAuthenticator(
        verifier,
        issuer=settings.issuer,
        max_token_bytes=settings.max_token_bytes,
        required_groups=settings.required_groups,
        introspector=introspector,
        jwks=jwks,
        egress=egress,
    )
