"""Generated upstream states for the astro property test, and the oracle computed from them.

A state is a few nights of frames of several targets (some out of scope), calibration frames,
and, for the N.I.N.A. layout, image events whose text names another target than their tag.
Each state is written to its own measurements (a unique suffix), so examples never mix.
The oracle knows each frame's night and tag directly: it never runs the capability's code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase
from typing import Any

from hypothesis import strategies as st

from .generator import TZ, _str_field, _tag

__all__ = ["TARGETS", "GenFrame", "GenState", "Oracle", "states"]

TARGETS = ("M31", "M42", "NGC 7000", "Secret Comet", "IC 1805")
SCOPES: tuple[tuple[str, ...] | None, ...] = (
    None,
    ("M*",),
    ("NGC *", "IC ?805"),
    ("M31",),
    ("Secret Comet",),
)
FILTERS = ("L", "Ha", "OIII")
FIRST = date(2025, 1, 6)
_suffix = itertools.count(1)


@dataclass(frozen=True)
class GenFrame:
    night: date
    start: datetime
    image_type: str
    exposure_s: int
    target: str | None  # the stored tag
    filter: str
    text_target: str | None = None  # N.I.N.A. only: what the event text claims


@dataclass
class GenState:
    layout: str
    suffix: int
    frames: list[GenFrame]
    scope: tuple[str, ...] | None
    max_rows: int
    page: int
    max_chars: int | None
    max_items: int | None
    target_arg: str | None
    filter_arg: str | None
    nights: tuple[date, date] = field(default=(FIRST, FIRST))

    def mapping(self) -> dict[str, Any]:
        n = self.suffix
        if self.layout == "wide":
            return {"wide": {"measurement": f"frame_{n}"}}
        return {
            "nina": {
                "events_measurement": f"events_{n}",
                "hfr_measurement": f"hfr_{n}",
                "stars_measurement": f"stars_{n}",
                "rms_measurement": f"rms_{n}",
                "sensor_temp_measurement": f"temp_{n}",
            }
        }

    def lines(self) -> list[str]:
        return [line for f in self.frames for line in self._lines(f)]

    def _lines(self, f: GenFrame) -> list[str]:
        n = self.suffix
        tag = f",target={_tag(f.target)}" if f.target else ""
        ns = int(f.start.timestamp()) * 10**9
        if self.layout == "wide":
            return [
                f"frame_{n},image_type={f.image_type},filter={f.filter}{tag}"
                f" exposure_s={f.exposure_s},hfr=2.1,stars=500i {ns}"
            ]
        end = ns + f.exposure_s * 10**9
        text = (
            f"Image; Type: {f.image_type},"
            + (f" Target: {f.text_target}," if f.text_target else "")
            + f" Filter: {f.filter}, Exp: {f.exposure_s:.2f}s, Gain: 100"
        )
        ntag = f",target_name={_tag(f.target)}" if f.target else ""
        out = [f'events_{n},name=image{ntag} title="Image",text={_str_field(text)} {end}']
        if f.image_type == "LIGHT":
            out += [
                f"{m}_{n}{ntag} value=2 {end + (i + 3) * 10**6}"
                for i, m in enumerate(("hfr", "stars", "rms", "temp"))
            ]
        return out


@st.composite
def states(draw: st.DrawFn) -> GenState:
    layout = draw(st.sampled_from(("wide", "nina")))
    nights = sorted(draw(st.sets(st.integers(0, 9), min_size=1, max_size=5)))
    frames: list[GenFrame] = []
    for d in nights:
        night = FIRST + timedelta(days=d)
        t = datetime.combine(night, time(21, 0), tzinfo=TZ).astimezone(UTC)
        for target in draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=4, unique=True)):
            for _ in range(draw(st.integers(1, 14))):
                exp = draw(st.sampled_from((60, 120, 300)))
                claimed = draw(st.sampled_from((target, *TARGETS))) if layout == "nina" else None
                flt = draw(st.sampled_from(FILTERS))
                frames.append(GenFrame(night, t, "LIGHT", exp, target, flt, claimed))
                t += timedelta(seconds=exp + 10)
            t += timedelta(minutes=3)
        cal = datetime.combine(night + timedelta(days=1), time(6, 0), tzinfo=TZ).astimezone(UTC)
        for i in range(draw(st.integers(0, 4))):
            frames.append(GenFrame(night, cal + timedelta(seconds=40 * i), "FLAT", 2, None, "Ha"))
    scope = draw(st.sampled_from(SCOPES))
    allowed = [t for t in TARGETS if scope is None or any(fnmatchcase(t, g) for g in scope)]
    return GenState(
        layout=layout,
        suffix=next(_suffix),
        frames=frames,
        scope=scope,
        max_rows=draw(st.sampled_from((50_000, 10, 25, 60))),
        page=draw(st.integers(1, 6)),
        max_chars=draw(st.sampled_from((None, 2500, 4000, 9000))),
        max_items=draw(st.sampled_from((None, 1, 3))),
        target_arg=draw(st.sampled_from((None, *allowed))) if allowed else None,
        filter_arg=draw(st.sampled_from((None, None, "Ha"))),
        nights=(FIRST + timedelta(days=nights[0]), FIRST + timedelta(days=nights[-1])),
    )


class Oracle:
    """What the tools may and must answer for a state, from the state alone."""

    def __init__(self, s: GenState) -> None:
        self.s = s

    def in_scope(self, target: str | None) -> bool:
        s = self.s
        if target is None or (s.target_arg is not None and target != s.target_arg):
            return False
        return s.scope is None or any(fnmatchcase(target, g) for g in s.scope)

    def lights(self) -> list[GenFrame]:
        return [f for f in self.s.frames if f.image_type == "LIGHT" and self.in_scope(f.target)]

    def sessions(self) -> dict[tuple[date, str], list[GenFrame]]:
        out: dict[tuple[date, str], list[GenFrame]] = {}
        for f in self.lights():
            assert f.target is not None
            out.setdefault((f.night, f.target), []).append(f)
        return out

    def listed(self) -> dict[tuple[date, str], list[GenFrame]]:
        flt = self.s.filter_arg
        return {
            k: fs
            for k, fs in self.sessions().items()
            if flt is None or any(f.filter == flt for f in fs)
        }

    def rows(self, night: date) -> int:
        """The most rows one series of the listing statement holds for ``night``."""
        s = self.s
        lights = sum(1 for f in self.lights() if f.night == night)
        if s.layout == "wide":
            return lights
        unfiltered = s.scope is None and s.target_arg is None
        events = sum(
            1
            for f in s.frames
            if f.night == night and (self.in_scope(f.target) or (unfiltered and f.target is None))
        )
        return max(lights, events)

    def out_of_scope_names(self) -> list[str]:
        return [t for t in TARGETS if not self.in_scope(t)]

    def totals(self) -> dict[str, tuple[float, int, int]]:
        out: dict[str, tuple[float, int, int]] = {}
        for (_, target), fs in sorted(self.sessions().items()):
            i, n, k = out.get(target, (0.0, 0, 0))
            out[target] = (i + sum(f.exposure_s for f in fs), n + 1, k + len(fs))
        return out
