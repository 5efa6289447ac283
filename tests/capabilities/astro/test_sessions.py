"""Session rules in isolation: night boundaries (DST too) and the gap threshold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from capabilities.astro.frames import Frame
from capabilities.astro.sessions import gaps, group_sessions, night_bounds, night_of

from .generator import TZ


def _f(t: datetime, exp: float = 300, target: str = "M31") -> Frame:
    return Frame(start=t, image_type="LIGHT", exposure_s=exp, target=target, filter="Ha")


def test_night_is_local_date_minus_twelve_hours() -> None:
    assert night_of(datetime(2024, 7, 1, 23, 0, tzinfo=UTC), TZ, 12) == date(2024, 7, 1)
    assert night_of(datetime(2024, 7, 2, 9, 59, tzinfo=UTC), TZ, 12) == date(2024, 7, 1)
    assert night_of(datetime(2024, 7, 2, 10, 0, tzinfo=UTC), TZ, 12) == date(2024, 7, 2)
    # 27 Oct 2024: clocks go back in Paris; noon local is 11:00 UTC afterwards
    assert night_of(datetime(2024, 10, 27, 10, 30, tzinfo=UTC), TZ, 12) == date(2024, 10, 26)
    assert night_of(datetime(2024, 10, 27, 11, 0, tzinfo=UTC), TZ, 12) == date(2024, 10, 27)


def test_night_bounds_agree_with_night_of() -> None:
    start, end = night_bounds(date(2024, 10, 26), date(2024, 10, 26), TZ, 12)
    assert (start, end) == (
        datetime(2024, 10, 26, 10, tzinfo=UTC),
        datetime(2024, 10, 27, 11, tzinfo=UTC),
    )
    assert night_of(start, TZ, 12) == date(2024, 10, 26)
    assert night_of(end - timedelta(microseconds=1), TZ, 12) == date(2024, 10, 26)
    assert night_of(end, TZ, 12) == date(2024, 10, 27)


def test_gap_threshold_is_strictly_more_than() -> None:
    t = datetime(2024, 7, 1, 21, tzinfo=UTC)
    frames = [_f(t), _f(t + timedelta(minutes=35)), _f(t + timedelta(minutes=75, seconds=1))]
    found = gaps(frames, 30)
    assert len(found) == 1 and found[0].lost_minutes == 35.0


def test_sessions_split_by_night_and_target_and_skip_calibration() -> None:
    t = datetime(2024, 7, 1, 21, tzinfo=UTC)
    frames = [
        _f(t),
        _f(t + timedelta(hours=2), target="M42"),
        _f(t + timedelta(days=1)),
        Frame(start=t, image_type="DARK", exposure_s=300),
        Frame(start=t, image_type="LIGHT", exposure_s=300),  # no target: not a session
    ]
    sessions = group_sessions(frames, "LIGHT", TZ, 12)
    assert [(s.night, s.target) for s in sessions] == [
        (date(2024, 7, 2), "M31"),
        (date(2024, 7, 1), "M42"),
        (date(2024, 7, 1), "M31"),
    ]
