"""Helpers that turn plan sessions into the values a tool must return."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .generator import Plan, PlannedSession

__all__ = ["actual_summary", "expected_summary", "in_nights"]


def in_nights(plan: Plan, first: date, last: date) -> list[PlannedSession]:
    return [s for s in plan.sessions if first <= s.night <= last]


def expected_summary(s: PlannedSession) -> dict[str, Any]:
    last = s.frames[-1]
    return {
        "night": s.night,
        "target": s.target,
        "frames": len(s.frames),
        "integration_s": float(sum(f.exposure_s for f in s.frames)),
        "by_filter": {k: float(v) for k, v in s.integration_by_filter.items()},
        "first_frame": s.frames[0].start,
        "last_frame_end": last.start + timedelta(seconds=last.exposure_s),
        "interruptions": len(s.cloud_minutes),
        "lost_minutes": s.lost_minutes,
        "hfr_min": min(f.hfr for f in s.frames if f.hfr is not None),
    }


def actual_summary(item: Any) -> dict[str, Any]:
    return {
        "night": item.night,
        "target": item.target,
        "frames": item.frames,
        "integration_s": item.integration_s,
        "by_filter": {f.filter: f.integration_s for f in item.integration_by_filter},
        "first_frame": item.first_frame,
        "last_frame_end": item.last_frame_end,
        "interruptions": item.interruptions,
        "lost_minutes": item.lost_minutes,
        "hfr_min": item.quality.hfr_min,
    }
