"""Optional RFC 7662 introspection: is this (already verified) token still active?

Asked after the JWT is verified, so an attacker cannot make the gateway introspect garbage.
The answer is cached for ``cache_seconds`` under the token's SHA-256 (never the token itself).
An endpoint that cannot be reached, or answers anything but a JSON object, denies: fail closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable

import httpx

from gateway.auth.reasons import AuthReason, fail
from gateway.auth.settings import IntrospectionSettings

__all__ = ["MAX_CACHE_ENTRIES", "Introspector"]

log = logging.getLogger(__name__)

MAX_CACHE_ENTRIES = 4096
_MAX_RESPONSE_BYTES = 64 * 1024


class Introspector:
    def __init__(
        self,
        settings: IntrospectionSettings,
        client: httpx.AsyncClient,
        secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        self._secret = secret
        self._cache: dict[str, tuple[bool, float]] = {}
        #: Requests sent to the endpoint so far; for metrics and tests.
        self.requests = 0

    async def check(self, token: str) -> None:
        """Return when the token is active; :class:`AuthError` otherwise."""
        digest = hashlib.sha256(token.encode("ascii")).hexdigest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            active = cached[0]
        else:
            active = await self._ask(token)
            self._remember(digest, active, now)
        if not active:
            raise fail(AuthReason.REVOKED)

    def _remember(self, digest: str, active: bool, now: float) -> None:
        if self._settings.cache_seconds <= 0:
            return
        if len(self._cache) >= MAX_CACHE_ENTRIES:
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            while len(self._cache) >= MAX_CACHE_ENTRIES:
                del self._cache[next(iter(self._cache))]
        self._cache[digest] = (active, now + self._settings.cache_seconds)

    async def _ask(self, token: str) -> bool:
        self.requests += 1
        try:
            async with self._client.stream(
                "POST",
                self._settings.endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=httpx.BasicAuth(self._settings.client_id, self._secret),
                headers={"accept": "application/json"},
                follow_redirects=False,
                timeout=self._settings.timeout_seconds,
            ) as response:
                status = response.status_code
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_RESPONSE_BYTES:
                        raise fail(AuthReason.INTROSPECTION_UNAVAILABLE, "response too large")
        except httpx.HTTPError as exc:
            raise fail(AuthReason.INTROSPECTION_UNAVAILABLE, type(exc).__name__) from None
        if status != 200:
            raise fail(AuthReason.INTROSPECTION_UNAVAILABLE, f"HTTP {status}")
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise fail(AuthReason.INTROSPECTION_UNAVAILABLE, "answer is not a JSON object")
        return answer.get("active") is True
