"""A circuit breaker per upstream: stop calling a service that keeps failing.

    closed --(N consecutive failures)--> open --(reset_seconds)--> half_open
    half_open --(probe succeeds)--> closed
    half_open --(probe fails)--> open (timer restarts)

In ``half_open`` exactly one request (the probe) goes through; the others are refused as if
the breaker were open. A probe that ends with neither success nor failure (cancelled) frees
the slot for the next request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["Breaker", "BreakerState", "Permit"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Permit(StrEnum):
    """What :meth:`Breaker.acquire` granted."""

    NORMAL = "normal"
    PROBE = "probe"


class Breaker:
    """Consecutive-failure breaker; ``clock`` is injectable for tests (monotonic seconds)."""

    def __init__(
        self,
        failures: int = 5,
        reset_seconds: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or reset_seconds <= 0:
            raise ValueError("failures must be >= 1 and reset_seconds > 0")
        self._threshold = failures
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self._reset:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def acquire(self) -> Permit | None:
        """May a request go out now? ``None`` when refused; in half-open only one probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit.NORMAL
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return Permit.PROBE
        return None

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self, permit: Permit) -> None:
        """The request holding ``permit`` ended without a verdict (e.g. it was cancelled)."""
        if permit is Permit.PROBE:
            self._probing = False
