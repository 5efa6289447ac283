"""The way in for every face: throttle by client address, authenticate, audit any rejection.

    principal = await gate.admit(request.headers, client_host, face="rest")

1. Throttle: each request takes a token from its client address's bucket *before* any
   authentication work, and gives it back once authenticated. Failed attempts therefore spend
   the bucket; when it is empty the answer is :class:`RateLimited` (429, ``Retry-After``)
   without looking at the token.
2. Authenticate with the configured :class:`Authenticator`.
3. Every rejection (401 or 429) is an ``auth_failure`` audit record, aggregated per client
   address, face and reason per second (:mod:`gateway.auth.failures`), durable before the
   answer leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from gateway.auth.failures import AuthFailureAudit
from gateway.auth.reasons import AuthReason
from gateway.auth.settings import ThrottleSettings
from gateway.capability import Principal
from gateway.errors import AuthError, RateLimited
from gateway.limits import Limiter

__all__ = ["AuthGate"]


class _Authenticates(Protocol):
    async def authenticate(
        self, headers: Mapping[str, str], client_host: str | None
    ) -> Principal: ...


class _Stages(Protocol):
    def stage(self, name: str) -> AbstractContextManager[Any]: ...


class _NoStages:
    def stage(self, name: str) -> AbstractContextManager[Any]:
        return nullcontext()


class AuthGate:
    def __init__(
        self,
        authenticator: _Authenticates,
        failures: AuthFailureAudit,
        throttle: ThrottleSettings,
        *,
        telemetry: _Stages | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._authenticator = authenticator
        self._telemetry = telemetry or _NoStages()
        self._failures = failures
        self._throttle = throttle
        self._limiter = Limiter(max_keys=100_000)
        self._clock = clock

    async def admit(
        self, headers: Mapping[str, str], client_host: str | None, *, face: str
    ) -> Principal:
        """The caller's principal; :class:`AuthError` or :class:`RateLimited`, audited."""
        key = ("pre-auth", client_host or "unknown")
        limits = self._throttle
        wait = self._limiter.take(key, limits.per_second, limits.burst, self._clock())
        if wait is not None:
            await self._failures.record(
                client_host, face, AuthReason.RATE_LIMITED, error_code=RateLimited.code
            )
            raise RateLimited(wait, internal="unauthenticated attempts from this address")
        try:
            with self._telemetry.stage("labgate.authenticate"):
                principal = await self._authenticator.authenticate(headers, client_host)
        except AuthError as exc:
            await self._failures.record(client_host, face, exc.reason, error_code=exc.code)
            raise
        self._limiter.give_back(key, limits.burst)
        return principal

    async def aclose(self) -> None:
        await self._failures.aclose()
