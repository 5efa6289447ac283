"""The same plan written in the N.I.N.A. InfluxDB Exporter's narrow layout.

Events (ms precision) are written when a frame is saved (exposure end); each metric point
is written a few milliseconds later (ns precision), as the exporter does. Every point carries
the exporter's default tags (``target_name`` when the sequence has a target, ``camera_name``).
"""

from __future__ import annotations

from datetime import timedelta

from .generator import Plan, PlannedFrame, _str_field, _tag

__all__ = ["nina_lines"]


def _ns(f: PlannedFrame, extra_ms: int) -> int:
    end = f.start + timedelta(seconds=f.exposure_s)
    return int(end.timestamp()) * 1_000_000_000 + extra_ms * 1_000_000 + 123


def nina_lines(plan: Plan) -> list[str]:
    lines = []
    frames = plan.lights() + [f for fs in plan.calibration.values() for f in fs]
    for i, f in enumerate(frames):
        target = f.target or ""
        text = (
            f"Image; Type: {f.image_type},"
            + (f" Target: {target}," if f.target else "")
            + f" Filter: {f.filter or ''}, Exp: {f.exposure_s:.2f}s, Gain: 100"
        )
        t_ev = _ns(f, 0) // 1_000_000 * 1_000_000  # ms precision
        tags = (f",target_name={_tag(target)}" if f.target else "") + ",camera_name=ZWO\\ ASI2600MM"
        lines.append(f'events,name=image{tags} title="Image",text={_str_field(text)} {t_ev}')
        if i % 7 == 0:  # other events the join must ignore
            lines.append(f'events,name=autofocus title="AF",text="Autofocus" {t_ev + 5}')
        if f.hfr is None:
            continue
        tags = f"target_name={_tag(target)},camera_name=ZWO\\ ASI2600MM"
        for j, (m, v) in enumerate(
            (
                ("image_hfr", f.hfr),
                ("image_star_count", f.stars),
                ("image_rms_avg_arcsec", f.rms),
                ("camera_sensor_temperature", f.temp),
            )
        ):
            lines.append(f"{m},{tags} value={v} {_ns(f, 3 + j)}")
    return lines
