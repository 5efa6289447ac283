"""Pure arithmetic of the harness: percentiles, medians, ratios and goal checks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Goal", "growth", "median", "percentile", "ratio", "summarize"]


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= pct <= 100:
        raise ValueError("pct must be between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; a zero baseline is a failed measurement, not infinity."""
    if denominator <= 0:
        raise ValueError("the baseline of a ratio must be positive")
    return numerator / denominator


def growth(before: float, after: float) -> float:
    """Relative growth from ``before`` to ``after`` (0.05 is 5 %)."""
    return ratio(after - before, before)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99, max and count of a latency sample."""
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": float(max(values)),
        "count": float(len(values)),
    }


@dataclass(frozen=True, slots=True)
class Goal:
    """A budget: the measured value must be ``>=`` or ``<=`` ``limit``; ``info``: no budget,
    the figure is reported for what it shows."""

    op: Literal[">=", "<=", "info"]
    limit: float

    def met(self, value: float | None) -> bool | None:
        """``None`` when there is no value (a pending figure) or no budget."""
        if value is None or self.op == "info":
            return None
        return value >= self.limit if self.op == ">=" else value <= self.limit

    def text(self, unit: str = "") -> str:
        if self.op == "info":
            return "(reported)"
        number = f"{self.limit:g}"
        return f"{self.op} {number}{(' ' + unit) if unit else ''}"
