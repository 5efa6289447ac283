"""Where verification keys come from: the issuer's JWKS (found by discovery) or a fixed ring.

Remote keys are fetched at start and kept fresh in the background: refetched when the issuer's
``Cache-Control: max-age`` runs out (at most half of ``jwks_max_age_seconds``), and never trusted
longer than ``jwks_max_age_seconds`` after the last good fetch, so a key the issuer removed stops
being trusted even when no token asks for a new one.

A token whose ``kid`` is not in the ring waits for a fetch that *starts after it arrived*
(Authentik rotates keys without overlap). Fetches are at least ``jwks_min_refetch_seconds``
apart, whoever asks: every caller waiting meanwhile shares the next one. So a flood of tokens
with made-up key ids costs the issuer one request per interval, and a token signed with a
freshly rotated key is accepted after at most one interval (plus the fetch), never refused.
A failed fetch keeps the last good ring (until its age limit) and is retried an interval later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from gateway.auth.keys import KeyRing
from gateway.auth.reasons import AuthReason, fail
from gateway.auth.settings import OidcSettings
from gateway.errors import ConfigError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "KeySource",
    "RemoteJwks",
    "Sleep",
    "StaticKeys",
    "discovery_url",
    "max_age_of",
]

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024
Sleep = Callable[[float], Awaitable[None]]


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


def max_age_of(cache_control: str | None) -> float | None:
    """Seconds a response may be cached per ``Cache-Control`` (RFC 9111 section 5.2.2);
    0 for ``no-store``/``no-cache``; None when the header says nothing about it."""
    if not cache_control:
        return None
    max_age: float | None = None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in {"no-store", "no-cache"}:
            return 0.0
        if name == "max-age":
            digits = value.strip().strip('"')
            max_age = float(digits) if digits.isdigit() else 0.0  # unparseable: stale
    return max_age


@dataclass(frozen=True, slots=True)
class _Document:
    body: Any
    cache_control: str | None


async def _get_json(client: httpx.AsyncClient, url: str, seconds: float) -> _Document:
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
            cache_control = response.headers.get("cache-control")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise _Unreachable(f"document from {url} exceeds {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise _Unreachable(f"{type(exc).__name__} fetching {url}") from None
    try:
        return _Document(json.loads(body), cache_control)
    except ValueError:
        raise _Unreachable(f"document from {url} is not JSON") from None


class RemoteJwks:
    """The issuer's signing keys: discovery, an age-bounded cache refreshed in the background,
    and paced refetches shared by every caller waiting for one."""

    def __init__(
        self,
        settings: OidcSettings,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._jwks_url = settings.jwks_url
        self._ring: KeyRing | None = None
        self._document: str | None = None  # the JWKS the ring was built from, canonical JSON
        self._expires_at = 0.0  # the ring is not trusted from then on
        self._refresh_at = 0.0  # the background refresh is due
        self._last_attempt: float | None = None
        self._last_ok = False
        self._next: asyncio.Task[bool] | None = None  # the next fetch, not started yet
        self._background: asyncio.Task[None] | None = None
        #: Why the last fetch failed (logs and audit only), None after a good one.
        self.last_error: str | None = None
        #: JWKS documents fetched so far (discovery not counted); for metrics and tests.
        self.fetches = 0

    @property
    def ring(self) -> KeyRing | None:
        """The ring in force, or None when none was loaded or it outlived its age limit."""
        if self._ring is None or self._clock() >= self._expires_at:
            return None
        return self._ring

    async def start(self) -> None:
        """Prefetch, then keep the ring fresh until :meth:`aclose`.

        An unreachable issuer is logged, not fatal; a wrong issuer (ConfigError) is fatal.
        """
        if not await self._attempt():
            log.warning("identity provider not reachable at start: %s", self.last_error)
        loop = asyncio.get_running_loop()
        self._background = loop.create_task(self._keep_fresh(), name="labgate-jwks-refresh")

    async def aclose(self) -> None:
        tasks = [t for t in (self._background, self._next) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._background = self._next = None

    async def ring_for(self, kid: str | None) -> KeyRing:
        ring = self.ring
        if ring is not None and ring.has(kid):
            return ring
        ok = await self._fetch_after_now()
        ring = self.ring
        if ring is None or (not ok and not ring.has(kid)):
            raise fail(AuthReason.ISSUER_UNREACHABLE, self.last_error or "no key set available")
        return ring

    async def _fetch_after_now(self) -> bool:
        """Wait for the next fetch that starts from now on; True when it succeeded."""
        task = self._next
        if task is None:
            loop = asyncio.get_running_loop()
            task = loop.create_task(self._paced_fetch(), name="labgate-jwks-fetch")
            self._next = task
        return await asyncio.shield(task)

    def _interval(self) -> float:
        return self._settings.jwks_min_refetch_seconds

    async def _paced_fetch(self) -> bool:
        try:
            if self._last_attempt is not None:
                wait = self._last_attempt + self._interval() - self._clock()
                if wait > 0:
                    await self._sleep(wait)
        finally:
            self._next = None  # from here on, newcomers need the fetch after this one
        try:
            return await self._attempt()
        except ConfigError as exc:
            log.error("identity provider misconfigured: %s", exc.detail)
            self.last_error = "discovery document rejected"
            return False

    async def _keep_fresh(self) -> None:
        while True:
            delay = self._refresh_at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            else:
                await self._fetch_after_now()  # paced: a failure is retried an interval later

    async def _attempt(self) -> bool:
        started = self._last_attempt = self._clock()
        self._last_ok = False
        try:
            ring, document, cache_control = await self._fetch()
        except _Unreachable as exc:
            self.last_error = str(exc)[:300]
            log.warning("JWKS fetch failed: %s", self.last_error)
            return False
        self._install(ring, document, max_age_of(cache_control), started)
        self._last_ok, self.last_error = True, None
        return True

    def _install(self, ring: KeyRing, document: str, max_age: float | None, at: float) -> None:
        if document != self._document:  # an unchanged set keeps its ring (and what it vouched)
            self._ring, self._document = ring, document
        ceiling = self._settings.jwks_max_age_seconds
        self._expires_at = at + ceiling
        self._refresh_at = at + (ceiling / 2 if max_age is None else min(max_age, ceiling / 2))

    async def _fetch(self) -> tuple[KeyRing, str, str | None]:
        seconds = self._settings.discovery_timeout_seconds
        if self._jwks_url is None:
            self._jwks_url = await self._discover(seconds)
        self.fetches += 1
        document = await _get_json(self._client, self._jwks_url, seconds)
        try:
            ring = KeyRing.from_jwks(document.body)
        except ValueError:
            raise _Unreachable("the JWKS is not a JWK Set") from None
        if len(ring) == 0:
            log.warning("the JWKS at %s holds no usable signing key", self._jwks_url)
        canonical = json.dumps(document.body, sort_keys=True, separators=(",", ":"))
        return ring, canonical, document.cache_control

    async def _discover(self, seconds: float) -> str:
        issuer = self._settings.issuer
        document = (await _get_json(self._client, discovery_url(issuer), seconds)).body
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
