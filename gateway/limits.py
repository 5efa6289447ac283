"""Rate limits: token buckets keyed by (rule, principal); rates come from policy ``limits``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Bucket", "Limiter", "RateSpec"]


@dataclass(slots=True)
class Bucket:
    tokens: float
    stamp: float


class RateSpec(Protocol):
    """A policy ``limits`` block: ``count`` per ``period_seconds``, ``burst`` deep."""

    @property
    def count(self) -> int: ...

    @property
    def period_seconds(self) -> float: ...

    @property
    def burst(self) -> int | None: ...


class Limiter:
    """Token buckets. Memory stays bounded: full buckets are forgotten when the table grows."""

    def __init__(self, max_keys: int = 50_000) -> None:
        self._buckets: dict[tuple[str, ...], Bucket] = {}
        self._max_keys = max_keys

    def check(
        self, limits: Sequence[tuple[tuple[str, ...], RateSpec | None]], now: float
    ) -> float | None:
        """Take one token from each bucket that has limits, in order; the first refusal's wait.

        A refused call takes from no later bucket (the rule's limit is not spent by a call the
        global limit already refused)."""
        for key, spec in limits:
            if spec is None:
                continue
            wait = self.take(key, spec.count / spec.period_seconds, spec.burst or spec.count, now)
            if wait is not None:
                return wait
        return None

    def take(self, key: tuple[str, ...], per_second: float, burst: int, now: float) -> float | None:
        """Take one token; return None when allowed, else seconds until one is available."""
        capacity = float(max(burst, 1))
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune(now, per_second, capacity)
            bucket = self._buckets[key] = Bucket(capacity, now)
        else:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * per_second)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / per_second

    def give_back(self, key: tuple[str, ...], burst: int) -> None:
        """Return a token taken by :meth:`take` (its request turned out not to count)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(float(max(burst, 1)), bucket.tokens + 1.0)

    def _prune(self, now: float, per_second: float, capacity: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * per_second >= capacity
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:  # still full: drop the oldest half
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].stamp)
            for k in oldest[: len(oldest) // 2]:
                del self._buckets[k]
