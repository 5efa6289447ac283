"""Where verification keys come from: the issuer's JWKS (found by discovery) or a fixed ring.

Remote keys are fetched once at start and cached. A token whose ``kid`` is not in the cache
triggers one refetch (Authentik rotates keys without overlap), but never more often than once
per ``jwks_min_refetch_seconds``; callers that arrive together share that one fetch. A failed
fetch keeps the last good ring and is retried after ``min(floor, 5 s)``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from gateway.auth.keys import KeyRing
from gateway.auth.reasons import AuthReason, fail
from gateway.auth.settings import OidcSettings
from gateway.errors import AuthError, ConfigError

__all__ = ["MAX_DOCUMENT_BYTES", "KeySource", "RemoteJwks", "StaticKeys", "discovery_url"]

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024
_FAILED_RETRY_SECONDS = 5.0


class KeySource(Protocol):
    async def ring_for(self, kid: str | None) -> KeyRing:
        """The current ring, refreshed first (if allowed) when it lacks ``kid``."""
        ...


class StaticKeys:
    """A fixed ring: the dev issuer's key, or the HS256 secret."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    async def ring_for(self, kid: str | None) -> KeyRing:
        return self._ring


def discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 section 4: ``<issuer>/.well-known/openid-configuration``."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class _Unreachable(Exception):
    """The issuer did not give a usable answer (network, status, size, syntax)."""


async def _get_json(client: httpx.AsyncClient, url: str, seconds: float) -> Any:
    try:
        async with client.stream(
            "GET",
            url,
            headers={"accept": "application/json"},
            follow_redirects=False,
            timeout=seconds,
        ) as response:
            if response.status_code != 200:
                raise _Unreachable(f"HTTP {response.status_code} from {url}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise _Unreachable(f"document from {url} exceeds {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise _Unreachable(f"{type(exc).__name__} fetching {url}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise _Unreachable(f"document from {url} is not JSON") from None


class RemoteJwks:
    """The issuer's signing keys, with discovery, caching and a rate-limited refetch."""

    def __init__(
        self,
        settings: OidcSettings,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        self._jwks_url = settings.jwks_url
        self._ring: KeyRing | None = None
        self._lock = asyncio.Lock()
        self._generation = 0
        self._last_attempt: float | None = None
        self._last_ok = False
        #: JWKS documents fetched so far (discovery not counted); for metrics and tests.
        self.fetches = 0

    @property
    def ring(self) -> KeyRing | None:
        return self._ring

    async def start(self) -> None:
        """Prefetch. An unreachable issuer is logged, not fatal; a wrong issuer is fatal."""
        try:
            await self._refresh(self._generation)
        except AuthError as exc:
            log.warning("identity provider not reachable at start: %s", exc.internal)

    async def ring_for(self, kid: str | None) -> KeyRing:
        ring = self._ring
        if ring is not None and ring.has(kid):
            return ring
        try:
            await self._refresh(self._generation)
        except ConfigError as exc:
            log.error("identity provider misconfigured: %s", exc.internal)
            raise fail(AuthReason.ISSUER_UNREACHABLE, "discovery document rejected") from None
        ring = self._ring
        if ring is None:
            raise fail(AuthReason.ISSUER_UNREACHABLE, "no key set available")
        return ring

    async def _refresh(self, seen_generation: int) -> None:
        async with self._lock:
            if self._generation != seen_generation:
                return  # another caller refreshed while this one waited: share its result
            now = self._clock()
            floor = self._settings.jwks_min_refetch_seconds
            if not self._last_ok:
                floor = min(floor, _FAILED_RETRY_SECONDS)
            if self._last_attempt is not None and now - self._last_attempt < floor:
                return
            self._last_attempt = now
            self._generation += 1
            try:
                self._ring = await self._fetch()
                self._last_ok = True
            except _Unreachable as exc:
                self._last_ok = False
                raise fail(AuthReason.ISSUER_UNREACHABLE, str(exc)[:300]) from None
            except ConfigError:
                self._last_ok = False
                raise

    async def _fetch(self) -> KeyRing:
        seconds = self._settings.discovery_timeout_seconds
        if self._jwks_url is None:
            self._jwks_url = await self._discover(seconds)
        self.fetches += 1
        document = await _get_json(self._client, self._jwks_url, seconds)
        try:
            ring = KeyRing.from_jwks(document)
        except ValueError:
            raise _Unreachable("the JWKS is not a JWK Set") from None
        if len(ring) == 0:
            log.warning("the JWKS at %s holds no usable signing key", self._jwks_url)
        return ring

    async def _discover(self, seconds: float) -> str:
        issuer = self._settings.issuer
        document = await _get_json(self._client, discovery_url(issuer), seconds)
        if not isinstance(document, dict):
            raise _Unreachable("the discovery document is not an object")
        if document.get("issuer") != issuer:
            raise ConfigError(
                "the discovery document names another issuer than oidc.issuer "
                "(they must match byte for byte, trailing slash included)",
                key="auth.oidc.issuer",
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or _origin(jwks_uri) != _origin(issuer):
            raise ConfigError(
                "the discovery document's jwks_uri is missing or not on the issuer's origin; "
                "set oidc.jwks_url to override",
                key="auth.oidc.jwks_url",
            )
        return jwks_uri
