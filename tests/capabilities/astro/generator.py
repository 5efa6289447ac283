"""A deterministic season of imaging, and what its sessions must look like.

The expectations are computed from the plan (what was scheduled, where clouds were
inserted, where dawn cut a sequence), never from the capability's code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["HOSTILE", "TZ", "Plan", "PlannedFrame", "PlannedSession", "make_plan", "wide_lines"]

TZ = ZoneInfo("Europe/Paris")
FIRST_NIGHT = date(2024, 8, 1)
NIGHTS = 120
DOWNLOAD_S = 10
HOSTILE = [
    'M31" OR 1=1',
    'x") |> drop() //',
    "'; DROP",
    "Ωμέγα ☄ nebula",
    "L" + "o" * 150 + "ng",
]
TARGETS = {
    "M31": ["L", "R", "G", "B", "Ha"],
    "M42": ["L", "R", "G", "B"],
    "NGC 7000": ["Ha", "OIII", "SII"],
    **{h: ["Ha", "L"] for h in HOSTILE},
}
EXPOSURE = {"L": 120, "R": 120, "G": 120, "B": 120, "Ha": 300, "OIII": 300, "SII": 300}


@dataclass
class PlannedFrame:
    start: datetime
    image_type: str
    exposure_s: int
    target: str | None
    filter: str | None
    hfr: float | None = None
    stars: int | None = None
    rms: float | None = None
    temp: float = -10.0
    file: str | None = None


@dataclass
class PlannedSession:
    night: date
    target: str
    frames: list[PlannedFrame] = field(default_factory=list)
    cloud_minutes: list[int] = field(default_factory=list)  # inserted gaps (> 30 min)
    dawn_cut: bool = False

    @property
    def integration_by_filter(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.frames:
            assert f.filter is not None
            out[f.filter] = out.get(f.filter, 0) + f.exposure_s
        return out

    @property
    def lost_minutes(self) -> float:
        return round(sum(m + DOWNLOAD_S / 60 for m in self.cloud_minutes), 1)


@dataclass
class Plan:
    sessions: list[PlannedSession]
    calibration: dict[date, list[PlannedFrame]]

    def lights(self) -> list[PlannedFrame]:
        return [f for s in self.sessions for f in s.frames]


def _local(night: date, hh: int, mm: int, next_day: bool = False) -> datetime:
    d = night + timedelta(days=1) if next_day else night
    return datetime.combine(d, time(hh, mm), tzinfo=TZ).astimezone(UTC)


def make_plan(seed: int = 2024) -> Plan:
    rng = random.Random(seed)
    sessions: list[PlannedSession] = []
    calibration: dict[date, list[PlannedFrame]] = {}
    names = sorted(TARGETS)
    for n in range(NIGHTS):
        night = FIRST_NIGHT + timedelta(days=n)
        if rng.random() < 0.35:
            continue
        t = _local(night, 21, 30)
        dawn = _local(night, 5, 30, next_day=True)
        targets = rng.sample(names, k=rng.choice((1, 2, 2, 3)))
        for ti, target in enumerate(targets):
            s = PlannedSession(night, target)
            budget = rng.randint(25, 70)  # frames wanted for this target
            clouds = rng.random() < 0.3
            pause = rng.random() < 0.3
            filters = TARGETS[target]
            for i in range(budget):
                flt = filters[(i * len(filters)) // budget]
                exp = EXPOSURE[flt]
                if clouds and i == budget // 2:
                    gap = rng.randint(35, 95)
                    s.cloud_minutes.append(gap)
                    t += timedelta(minutes=gap)
                elif pause and i == budget // 3:
                    t += timedelta(minutes=rng.randint(5, 25))  # a short pause: not a gap
                if t + timedelta(seconds=exp) > dawn:
                    s.dawn_cut = True
                    if clouds and i == budget // 2:
                        s.cloud_minutes.pop()  # the gap ran into dawn: never followed
                    break
                s.frames.append(
                    PlannedFrame(
                        start=t,
                        image_type="LIGHT",
                        exposure_s=exp,
                        target=target,
                        filter=flt,
                        hfr=round(rng.uniform(1.6, 3.4), 2),
                        stars=rng.randint(300, 2500),
                        rms=round(rng.uniform(0.4, 1.4), 2),
                        temp=round(-10 + rng.uniform(-0.3, 0.3), 1),
                        file=f"D:\\astro\\{night}\\{flt}\\frame_{i:04d}.fits",
                    )
                )
                t += timedelta(seconds=exp + DOWNLOAD_S)
            if s.frames:
                sessions.append(s)
            if ti < len(targets) - 1:
                t += timedelta(minutes=3)  # slew
        cal = [
            PlannedFrame(
                _local(night, 6, 40, True) + timedelta(seconds=10 * i), "FLAT", 2, None, "Ha"
            )
            for i in range(rng.choice((0, 5)))
        ]
        cal += [
            PlannedFrame(
                _local(night, 6, 0, True) + timedelta(seconds=310 * i), "DARK", 300, None, None
            )
            for i in range(rng.choice((0, 0, 8)))
        ]
        if cal:
            calibration[night] = cal
    return Plan(sessions, calibration)


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _str_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wide_lines(plan: Plan, camera: str = "ZWO ASI2600MM Pro SN123456") -> list[str]:
    """Line protocol (precision s) for the wide layout."""
    lines = []
    frames = plan.lights() + [f for fs in plan.calibration.values() for f in fs]
    for f in frames:
        tags = [f"image_type={f.image_type}", f"camera={_tag(camera)}"]
        if f.target is not None:
            tags.append(f"target={_tag(f.target)}")
        if f.filter is not None:
            tags.append(f"filter={_tag(f.filter)}")
        fields = [f"exposure_s={f.exposure_s}", f"sensor_temp_c={f.temp}"]
        if f.hfr is not None:
            fields += [f"hfr={f.hfr}", f"stars={f.stars}i", f"guiding_rms_arcsec={f.rms}"]
        if f.file is not None:
            fields.append(f"file={_str_field(f.file)}")
        lines.append(f"astro_frame,{','.join(tags)} {','.join(fields)} {int(f.start.timestamp())}")
    return lines
