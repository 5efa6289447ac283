"""Optional RFC 7662 introspection: is this (already verified) token still active?

Asked after the JWT is verified, so an attacker cannot make the gateway introspect garbage.
The answer is cached for ``cache_seconds`` under the token's SHA-256 (never the token itself).
An endpoint that cannot be reached, or answers anything but a JSON object, denies: fail closed.
Requests go through :class:`gateway.auth.egress.IdpEgress` (gateway.upstream): origin pinned,
breaker (an endpoint that keeps failing is not waited for on every call), metrics, total
deadline and the shared body cap of ``MAX_RESPONSE_BYTES``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable

import httpx

from gateway.auth.egress import INTROSPECTION_UPSTREAM, IdpEgress
from gateway.auth.reasons import AuthReason, fail
from gateway.auth.settings import IntrospectionSettings
from gateway.errors import UpstreamFailure
from gateway.telemetry import Telemetry
from gateway.upstream import BreakerSettings

__all__ = ["MAX_CACHE_ENTRIES", "MAX_RESPONSE_BYTES", "Introspector", "introspection_egress"]

log = logging.getLogger(__name__)

MAX_CACHE_ENTRIES = 4096
MAX_RESPONSE_BYTES = 64 * 1024
BREAKER_RESET_SECONDS = 5.0


def introspection_egress(
    settings: IntrospectionSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    telemetry: Telemetry | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> IdpEgress:
    """The guarded way to the introspection endpoint: after 5 failures in a row, calls are
    refused at once (fail closed, as an unreachable endpoint is) for ``BREAKER_RESET_SECONDS``,
    instead of each waiting out the timeout; then one call probes the endpoint again."""
    return IdpEgress(
        INTROSPECTION_UPSTREAM,
        max_bytes=MAX_RESPONSE_BYTES,
        timeout=settings.timeout_seconds,
        transport=transport,
        telemetry=telemetry,
        breaker=BreakerSettings(failures=5, reset_seconds=BREAKER_RESET_SECONDS),
        clock=clock,
    )


class Introspector:
    def __init__(
        self,
        settings: IntrospectionSettings,
        egress: IdpEgress,
        secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._client = egress.client(settings.endpoint)
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
            response = await self._client.post(
                self._settings.endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=httpx.BasicAuth(self._settings.client_id, self._secret),
                headers={"accept": "application/json"},
            )
        except UpstreamFailure as exc:  # unreachable, deadline, 5xx, over the cap, breaker open
            raise fail(AuthReason.INTROSPECTION_UNAVAILABLE, exc.code) from None
        if response.status_code != 200:
            raise fail(AuthReason.INTROSPECTION_UNAVAILABLE, f"HTTP {response.status_code}")
        try:
            answer = json.loads(response.content)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise fail(AuthReason.INTROSPECTION_UNAVAILABLE, "answer is not a JSON object")
        return answer.get("active") is True
