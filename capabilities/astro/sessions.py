"""Session derivation in plain Python, shared by both backends.

* night = local date of (t - offset) in the site timezone (wall clock, like N.I.N.A.'s
  ``$$DATEMINUS12$$``); a night runs from local ``offset:00`` to ``offset:00`` next day;
* a session = the LIGHT frames of one (night, target);
* integration = sum of exposures (per filter too);
* an interruption = more than ``gap_minutes`` between one frame's end and the next's start.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .frames import Frame
from .mapping import RmsUnit
from .schemas import CalibrationStat, FilterStat, Gap, Quality, TargetTotal, TempStats

__all__ = [
    "Session",
    "calibration_stats",
    "filter_stats",
    "gaps",
    "group_sessions",
    "night_bounds",
    "night_of",
    "quality",
    "target_totals",
    "temp_stats",
]


def night_of(t: datetime, tz: ZoneInfo, offset_hours: int) -> date:
    return (t.astimezone(tz) - timedelta(hours=offset_hours)).date()


def night_bounds(
    first: date, last: date, tz: ZoneInfo, offset_hours: int
) -> tuple[datetime, datetime]:
    """UTC [start, end) covering the nights ``first`` .. ``last`` inclusive."""
    start = datetime.combine(first, time(offset_hours), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(offset_hours), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(slots=True)
class Session:
    night: date
    target: str
    frames: list[Frame]  # LIGHT frames, oldest first

    @property
    def first_frame(self) -> datetime:
        return self.frames[0].start

    @property
    def last_frame_end(self) -> datetime:
        return max(f.start + timedelta(seconds=f.exposure_s) for f in self.frames)

    @property
    def integration_s(self) -> float:
        return sum(f.exposure_s for f in self.frames)

    @property
    def camera(self) -> str | None:
        cams = Counter(f.camera for f in self.frames if f.camera)
        return cams.most_common(1)[0][0] if cams else None

    def sort_key(self) -> tuple[date, datetime, str]:
        return (self.night, self.first_frame, self.target)


def group_sessions(
    frames: Iterable[Frame], light: str, tz: ZoneInfo, offset_hours: int
) -> list[Session]:
    """LIGHT frames grouped by (night, target); newest session first."""
    groups: dict[tuple[date, str], list[Frame]] = {}
    for f in frames:
        if f.image_type != light or f.target is None:
            continue
        groups.setdefault((night_of(f.start, tz, offset_hours), f.target), []).append(f)
    sessions = [
        Session(night, target, sorted(fs, key=lambda f: f.start))
        for (night, target), fs in groups.items()
    ]
    sessions.sort(key=Session.sort_key, reverse=True)
    return sessions


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def gaps(frames: list[Frame], gap_minutes: float) -> list[Gap]:
    out = []
    for prev, nxt in itertools.pairwise(frames):
        stopped = prev.start + timedelta(seconds=prev.exposure_s)
        lost = (nxt.start - stopped).total_seconds() / 60
        if lost > gap_minutes:
            out.append(Gap(stopped=stopped, resumed=nxt.start, lost_minutes=round(lost, 1)))
    return out


def filter_stats(frames: list[Frame], detail: bool) -> list[FilterStat]:
    by: dict[str | None, list[Frame]] = {}
    for f in frames:
        by.setdefault(f.filter, []).append(f)
    out = []
    for name in sorted(by, key=lambda n: (n is None, n or "")):
        fs = by[name]
        stat = FilterStat(
            filter=name, frames=len(fs), integration_s=round(sum(f.exposure_s for f in fs), 3)
        )
        if detail:
            stat.hfr_median = _median([f.hfr for f in fs if f.hfr is not None])
            stat.stars_median = _median([f.stars for f in fs if f.stars is not None])
            stat.guiding_rms_mean = _mean([f.rms for f in fs if f.rms is not None])
        out.append(stat)
    return out


def quality(frames: list[Frame], unit: RmsUnit) -> Quality:
    hfrs = [f.hfr for f in frames if f.hfr is not None]
    return Quality(
        hfr_median=_median(hfrs),
        hfr_min=round(min(hfrs), 3) if hfrs else None,
        stars_median=_median([f.stars for f in frames if f.stars is not None]),
        guiding_rms_mean=_mean([f.rms for f in frames if f.rms is not None]),
        guiding_rms_unit=unit,
    )


def temp_stats(frames: list[Frame]) -> TempStats:
    temps = [f.sensor_temp_c for f in frames if f.sensor_temp_c is not None]
    return TempStats(
        min_c=min(temps) if temps else None,
        max_c=max(temps) if temps else None,
        mean_c=_mean(temps),
    )


def calibration_stats(frames: Iterable[Frame], light: str) -> list[CalibrationStat]:
    counts: Counter[tuple[str, str | None, float]] = Counter(
        (f.image_type, f.filter, f.exposure_s) for f in frames if f.image_type != light
    )
    return [
        CalibrationStat(image_type=t, filter=flt, exposure_s=exp, frames=n)
        for (t, flt, exp), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    ]


def target_totals(sessions: Iterable[Session]) -> list[TargetTotal]:
    by: dict[str, list[Session]] = {}
    for s in sessions:
        by.setdefault(s.target, []).append(s)
    out = []
    for target, ss in by.items():
        frames = [f for s in ss for f in s.frames]
        out.append(
            TargetTotal(
                target=target,
                integration_s=round(sum(f.exposure_s for f in frames), 3),
                frames=len(frames),
                per_filter=filter_stats(frames, detail=False),
                nights=len({s.night for s in ss}),
                last_imaged=max(s.night for s in ss),
            )
        )
    out.sort(key=lambda t: (-t.integration_s, t.target))
    return out
