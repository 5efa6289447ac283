"""Flux over ``POST /api/v2/query`` (InfluxDB 2.x), wide layout only.

The query text is a fixed template filled only with configured identifiers; every agent value
is sent as a typed ``extern`` literal (the option-statement AST that influxdb-client builds
for its ``params=`` argument) and referenced by a bare ``p_`` identifier. The request goes
through the injected (guarded) ``httpx.AsyncClient``; annotated CSV answers are parsed here.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx

from .client import IDEMPOTENT
from .frames import Frame, FrameBatch, FrameQuery, SourceError
from .mapping import WideMapping, quote_ident
from .schemas import AstroConfig, glob_pattern

__all__ = ["DIALECT", "FluxClient", "extern_ast", "flux_query", "parse_annotated_csv"]

#: influxdb-client's default dialect.
DIALECT = {
    "header": True,
    "delimiter": ",",
    "annotations": ["datatype", "group", "default"],
    "commentPrefix": "#",
    "dateTimeFormat": "RFC3339",
}


def _literal(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "BooleanLiteral", "value": value}
    if isinstance(value, int):
        return {"type": "IntegerLiteral", "value": str(value)}
    if isinstance(value, float):
        return {"type": "FloatLiteral", "value": value}
    if isinstance(value, datetime):
        t = value.astimezone(UTC)
        return {
            "type": "DateTimeLiteral",
            "value": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond * 1000:09d}Z",
        }
    if isinstance(value, str):
        return {"type": "StringLiteral", "value": value}
    raise TypeError(f"no Flux literal for {type(value).__name__}")


def extern_ast(params: dict[str, object]) -> dict[str, Any]:
    """The ``extern`` File AST: one ``option p_x = <literal>`` per parameter."""
    body = [
        {
            "type": "OptionStatement",
            "assignment": {
                "type": "VariableAssignment",
                "id": {"type": "Identifier", "name": name},
                "init": _literal(value),
            },
        }
        for name, value in params.items()
    ]
    return {"imports": [], "body": body}


def _columns(m: WideMapping) -> tuple[list[str], list[str]]:
    tags = [m.image_type_tag, m.target_tag, m.filter_tag]
    fields = [m.exposure_field]
    fields += [f for f in (m.hfr_field, m.stars_field, m.rms_field, m.sensor_temp_field) if f]
    if m.camera_tag:
        tags.append(m.camera_tag)
    if m.file_field:
        fields.append(m.file_field)
    return tags, fields


def flux_query(bucket: str, m: WideMapping, q: FrameQuery) -> tuple[str, dict[str, object]]:
    params: dict[str, object] = {
        "p_start": q.start,
        "p_stop": q.end,
        "p_light": m.light_value,
        "p_limit": q.limit + 1,
    }
    typ, tgt = f"r[{quote_ident(m.image_type_tag)}]", f"r[{quote_ident(m.target_tag)}]"
    light = [f"{typ} == p_light"]
    if q.target is not None:
        params["p_target"] = q.target
        light.append(f"{tgt} == p_target")
    if q.target_globs is not None:
        params["p_targets_re"] = glob_pattern(list(q.target_globs))
        light.append(f"{tgt} =~ regexp.compile(v: p_targets_re)")
    cond = " and ".join(light)
    if q.calibration:
        cond = f"({cond}) or {typ} != p_light"
    tags, fields = _columns(m)
    wanted = fields if q.detail else [m.exposure_field]
    field_cond = " or ".join(f"r._field == {quote_ident(f)}" for f in wanted)
    keep = ", ".join(quote_ident(c) for c in ["_time", *tags, *wanted])
    lines = [
        *(['import "regexp"', ""] if q.target_globs is not None else []),
        f"from(bucket: {quote_ident(bucket)})",
        "  |> range(start: p_start, stop: p_stop)",
        f"  |> filter(fn: (r) => r._measurement == {quote_ident(m.measurement)})",
        f"  |> filter(fn: (r) => {cond})",
        f"  |> filter(fn: (r) => {field_cond})",
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
        f"  |> keep(columns: [{keep}])",
        "  |> group()",
        '  |> sort(columns: ["_time"], desc: true)',
        "  |> limit(n: p_limit)",
    ]
    return "\n".join(lines) + "\n", params


def _typed(kind: str, raw: str) -> object:
    if raw == "":
        return None
    if kind == "double":
        return float(raw)
    if kind in ("long", "unsignedLong"):
        return int(raw)
    if kind == "boolean":
        return raw == "true"
    if kind.startswith("dateTime"):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return raw


def parse_annotated_csv(text: str) -> list[dict[str, object]]:
    """Rows of an annotated CSV answer as dicts; an in-band error raises SourceError."""
    rows: list[dict[str, object]] = []
    types: list[str] = []
    header: list[str] | None = None
    for rec in csv.reader(io.StringIO(text)):
        if not rec or all(c == "" for c in rec):
            header, types = None, []
            continue
        if rec[0].startswith("#"):
            if rec[0] == "#datatype":
                types, header = rec, None
            continue
        if header is None:
            header = rec
            if "error" in header and "reference" in header:
                types = ["error"] * len(header)
            continue
        if types and types[0] == "error":
            raise SourceError("rejected", rec[header.index("error")])
        row = {}
        for i, name in enumerate(header):
            if name and i < len(rec):
                kind = types[i] if i < len(types) else "string"
                try:
                    row[name] = _typed(kind, rec[i])
                except ValueError:
                    raise SourceError("bad_response", f"bad {kind} value") from None
        rows.append(row)
    return rows


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _str(v: object) -> str | None:
    return v if isinstance(v, str) else None


def rows_to_frames(m: WideMapping, rows: list[dict[str, object]]) -> list[Frame]:
    frames = []
    for r in rows:
        t, exposure, image_type = (
            r.get("_time"),
            _num(r.get(m.exposure_field)),
            r.get(m.image_type_tag),
        )
        if not isinstance(t, datetime) or exposure is None or not isinstance(image_type, str):
            continue
        frames.append(
            Frame(
                start=t,
                image_type=image_type,
                exposure_s=exposure,
                target=_str(r.get(m.target_tag)),
                filter=_str(r.get(m.filter_tag)),
                hfr=_num(r.get(m.hfr_field or "")),
                stars=_num(r.get(m.stars_field or "")),
                rms=_num(r.get(m.rms_field or "")),
                sensor_temp_c=_num(r.get(m.sensor_temp_field or "")),
                camera=_str(r.get(m.camera_tag or "")),
                file=_str(r.get(m.file_field or "")),
            )
        )
    frames.sort(key=lambda f: f.start, reverse=True)
    return frames


class FluxClient:
    def __init__(self, http: httpx.AsyncClient, config: AstroConfig) -> None:
        self._http = http
        self._config = config

    def request(self, query: FrameQuery) -> dict[str, Any]:
        text, params = flux_query(self._config.bucket, self._config.wide, query)
        return {"extern": extern_ast(params), "query": text, "dialect": DIALECT}

    async def fetch(self, query: FrameQuery) -> FrameBatch:
        rows = await post_query(self._http, self._config, self.request(query))
        frames = rows_to_frames(self._config.wide, rows)
        partial = len(frames) > query.limit
        kept = frames[: query.limit]
        after = kept[-1].start if partial and kept else None
        return FrameBatch(frames=kept, partial=partial, complete_after=after, statements=1)


async def post_query(
    http: httpx.AsyncClient, config: AstroConfig, body: dict[str, Any]
) -> list[dict[str, Any]]:
    """POST one Flux query to ``/api/v2/query``; its annotated-CSV rows, or :class:`SourceError`."""
    response = await http.post(
        "/api/v2/query",
        params={"org": config.org} if config.org else None,
        json=body,
        headers={"Accept": "application/csv"},
        extensions=IDEMPOTENT,
    )
    if response.status_code in (401, 403):
        raise SourceError("credentials", f"credentials rejected ({response.status_code})")
    if response.status_code == 404:
        raise SourceError("not_found", "bucket or endpoint not found (404)")
    if response.status_code != 200:
        raise SourceError("rejected", f"{response.status_code}: {response.text[:200]}")
    rows: list[dict[str, Any]] = parse_annotated_csv(response.text)
    return rows
