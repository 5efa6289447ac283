"""InfluxQL statements from fixed templates, and the rows they return as frames.

Every statement is ONE ``SELECT``. Identifiers come from the validated mapping (quoted);
agent values are ``$name`` placeholders bound through the ``params`` form field; the only
other text is the policy's target globs, compiled by ``schemas.glob_pattern`` to a regex
whose characters are limited to ``[A-Za-z0-9_.*?:()|^$\\\\xs]`` (no ``/`` can end it early).
"""

from __future__ import annotations

import bisect
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from .frames import Frame, FrameQuery, SourceError
from .mapping import NinaMapping, WideMapping, quote_ident
from .schemas import glob_pattern

__all__ = ["Statement", "nina_frames", "nina_statement", "wide_frames", "wide_statement"]

Statement = tuple[str, dict[str, Any]]


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _source(rp: str | None, measurement: str) -> str:
    return (quote_ident(rp) + "." if rp else "") + quote_ident(measurement)


def _target_conditions(tag: str, q: FrameQuery, params: dict[str, Any]) -> list[str]:
    out = []
    if q.target is not None:
        params["target"] = q.target
        out.append(f"{tag} = $target")
    if q.target_globs is not None:
        out.append(f"{tag} =~ /{glob_pattern(list(q.target_globs))}/")
    return out


def wide_statement(m: WideMapping, rp: str | None, q: FrameQuery) -> Statement:
    cols = [m.exposure_field, m.image_type_tag, m.target_tag, m.filter_tag]
    if q.detail:
        extra = (m.hfr_field, m.stars_field, m.rms_field, m.sensor_temp_field, m.camera_tag)
        cols += [c for c in (*extra, m.file_field) if c is not None]
    params: dict[str, Any] = {
        "start": _rfc3339(q.start),
        "end": _rfc3339(q.end),
        "light": m.light_value,
        "limit": q.limit + 1,
    }
    typ = quote_ident(m.image_type_tag)
    light = " AND ".join(
        [f"{typ} = $light", *_target_conditions(quote_ident(m.target_tag), q, params)]
    )
    which = f"(({light}) OR {typ} <> $light)" if q.calibration else f"({light})"
    select = ", ".join(quote_ident(c) for c in cols)
    text = (
        f"SELECT {select} FROM {_source(rp, m.measurement)}"  # noqa: S608 (quoted config idents)
        f" WHERE time >= $start AND time < $end AND {which}"
        " ORDER BY time DESC LIMIT $limit"
    )
    return text, params


def _ms(value: Any) -> datetime:
    if not isinstance(value, int):
        raise SourceError("bad_response", "time is not an integer epoch")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    raise SourceError("bad_response", "numeric field holds a non-number")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def wide_frames(m: WideMapping, series: list[dict[str, Any]]) -> list[Frame]:
    """Rows of the wide statement (epoch=ms) to frames, newest first."""
    frames: list[Frame] = []
    for s in series:
        cols = s.get("columns")
        if not isinstance(cols, list):
            raise SourceError("bad_response", "series without columns")
        idx = {c: i for i, c in enumerate(cols) if isinstance(c, str)}

        def get(row: list[Any], name: str | None, idx: dict[str, int] = idx) -> Any:
            i = idx.get(name) if name else None
            return row[i] if i is not None and i < len(row) else None

        for row in s.get("values") or []:
            exposure = _num(get(row, m.exposure_field))
            image_type = _str(get(row, m.image_type_tag))
            if exposure is None or image_type is None:
                continue  # not a frame we can account for
            frames.append(
                Frame(
                    start=_ms(get(row, "time")),
                    image_type=image_type,
                    exposure_s=exposure,
                    target=_str(get(row, m.target_tag)),
                    filter=_str(get(row, m.filter_tag)),
                    hfr=_num(get(row, m.hfr_field)),
                    stars=_num(get(row, m.stars_field)),
                    rms=_num(get(row, m.rms_field)),
                    sensor_temp_c=_num(get(row, m.sensor_temp_field)),
                    camera=_str(get(row, m.camera_tag)),
                    file=_str(get(row, m.file_field)),
                )
            )
    frames.sort(key=lambda f: f.start, reverse=True)
    return frames


def _metrics(m: NinaMapping) -> list[tuple[str, str]]:
    pairs = (
        ("hfr", m.hfr_measurement),
        ("stars", m.stars_measurement),
        ("rms", m.rms_measurement),
        ("sensor_temp_c", m.sensor_temp_measurement),
    )
    return [(k, v) for k, v in pairs if v is not None]


def nina_statement(m: NinaMapping, rp: str | None, q: FrameQuery) -> Statement:
    """One SELECT over the events measurement and the metric measurements.

    The target conditions apply to image events as well as metrics (both carry the target
    tag); with ``calibration`` image events of every target come back too, because their
    type is only in the text: the tools keep only LIGHT frames of in-scope tagged targets.
    """
    cols = [m.value_field, m.text_field, m.target_tag, m.event_tag]
    if m.camera_tag is not None:
        cols.append(m.camera_tag)
    sources = [m.events_measurement] + ([v for _, v in _metrics(m)] if q.detail else [])
    params: dict[str, Any] = {
        "start": _rfc3339(q.start),
        "end": _rfc3339(q.end),
        "event": m.image_event,
        "none": "",
        "limit": q.limit + 1,
    }
    ev = quote_ident(m.event_tag)
    targets = _target_conditions(quote_ident(m.target_tag), q, params)
    image = f"{ev} = $event" if q.calibration else " AND ".join([f"{ev} = $event", *targets])
    metric = " AND ".join([f"{ev} = $none", *targets])
    text = (
        f"SELECT {', '.join(quote_ident(c) for c in cols)}"  # noqa: S608 (quoted config idents)
        f" FROM {', '.join(_source(rp, s) for s in sources)}"
        f" WHERE time >= $start AND time < $end AND (({image}) OR ({metric}))"
        " ORDER BY time DESC LIMIT $limit"
    )
    return text, params


_EVENT = re.compile(
    r"Type: (?P<type>[A-Za-z]+),(?: Target: (?P<target>.*?),)? Filter: (?P<filter>[^,]*),"
    r" Exp: (?P<exp>[0-9]+(?:\.[0-9]+)?)s"
)


def nina_frames(m: NinaMapping, series: list[dict[str, Any]]) -> list[Frame]:
    """Join metric points to ``image`` events within the tolerance; newest first.

    A frame's target is the event's target tag, never the ``Target:`` of its text (display
    text anyone can write); an event without the tag has no target and joins no session.
    Metrics join only an event with the same tag.
    """
    events: list[tuple[datetime, str, str | None, str | None]] = []
    metrics: dict[str, list[tuple[datetime, float, str | None]]] = {}
    by_name = {v: k for k, v in _metrics(m)}
    for s in series:
        cols = [c for c in s.get("columns") or [] if isinstance(c, str)]
        idx = {c: i for i, c in enumerate(cols)}
        name = s.get("name")
        for row in s.get("values") or []:
            t = _ms(row[idx["time"]])
            tag = _str(row[idx[m.target_tag]]) if m.target_tag in idx else None
            if name == m.events_measurement:
                text = _str(row[idx[m.text_field]]) if m.text_field in idx else None
                if text:
                    cam = _str(row[idx[m.camera_tag]]) if m.camera_tag in idx else None
                    events.append((t, text, tag or None, cam))
            elif name in by_name:
                value = _num(row[idx[m.value_field]]) if m.value_field in idx else None
                if value is not None:
                    metrics.setdefault(by_name[name], []).append((t, value, tag))
    for points in metrics.values():
        points.sort(key=lambda p: p[0])
    tolerance = timedelta(milliseconds=m.join_tolerance_ms)
    frames = []
    for t, text, target, cam in events:
        match = _EVENT.search(text)
        if match is None:
            continue
        exposure = float(match["exp"])
        values: dict[str, float | None] = {}
        for key, points in metrics.items():
            values[key] = _nearest(points, t, tolerance, target)
        frames.append(
            Frame(
                start=t - timedelta(seconds=exposure),
                image_type=match["type"].upper(),
                exposure_s=exposure,
                target=target,
                filter=match["filter"] or None,
                camera=cam,
                **values,  # type: ignore[arg-type]
            )
        )
    frames.sort(key=lambda f: f.start, reverse=True)
    return frames


def _nearest(
    points: list[tuple[datetime, float, str | None]],
    t: datetime,
    tolerance: timedelta,
    target: str | None,
) -> float | None:
    i = bisect.bisect_left(points, t, key=lambda p: p[0])
    best: tuple[timedelta, float] | None = None
    for j in (i - 1, i):
        if 0 <= j < len(points):
            pt, value, tag = points[j]
            d = abs(pt - t)
            if d <= tolerance and tag == target and (best is None or d < best[0]):
                best = (d, value)
    return best[1] if best else None
