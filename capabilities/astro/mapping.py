"""The schema mapping: where sessions live in InfluxDB, validated before any query is built.

Identifiers (measurements, tags, fields) come only from here. Each one must match
:data:`IDENT` and is emitted double-quoted; nothing the agent sends becomes an identifier.
Two layouts are understood:

* ``wide`` (default): one point per saved frame in one measurement, tags for target, filter
  and image type, fields for exposure, HFR, stars, guiding RMS, sensor temperature, file.
* ``nina``: the N.I.N.A. InfluxDB Exporter's narrow layout, one measurement per metric
  (field ``value``) plus an ``events`` measurement whose ``image`` events carry the filter
  and exposure in their text; frames are rebuilt by joining metrics to events by time.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["IDENT", "Ident", "NinaMapping", "WideMapping", "quote_ident"]

#: What an InfluxDB identifier may look like here: no quotes, backslashes, spaces or newlines.
IDENT = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$"
_IDENT_RE = re.compile(IDENT)

Ident = Annotated[str, StringConstraints(pattern=IDENT)]
#: A data value from configuration (sent as a bound parameter, never spliced).
ConfValue = Annotated[str, StringConstraints(min_length=1, max_length=64)]
RmsUnit = Literal["arcsec", "px"]


def quote_ident(name: str) -> str:
    """Double-quote a configured identifier, re-checking it (defence in depth)."""
    if not _IDENT_RE.match(name):
        raise ValueError(f"not a valid identifier: {name!r}")
    return f'"{name}"'


class WideMapping(BaseModel):
    """One point per frame; time = exposure start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measurement: Ident = "astro_frame"
    target_tag: Ident = "target"
    filter_tag: Ident = "filter"
    image_type_tag: Ident = "image_type"
    camera_tag: Ident | None = "camera"
    exposure_field: Ident = "exposure_s"
    hfr_field: Ident | None = "hfr"
    stars_field: Ident | None = "stars"
    rms_field: Ident | None = "guiding_rms_arcsec"
    rms_unit: RmsUnit = "arcsec"
    sensor_temp_field: Ident | None = "sensor_temp_c"
    file_field: Ident | None = "file"
    light_value: ConfValue = "LIGHT"


class NinaMapping(BaseModel):
    """The N.I.N.A. InfluxDB Exporter layout; event time = frame saved (exposure end)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events_measurement: Ident = "events"
    event_tag: Ident = "name"
    image_event: ConfValue = "image"
    text_field: Ident = "text"
    value_field: Ident = "value"
    target_tag: Ident = "target_name"
    camera_tag: Ident | None = "camera_name"
    hfr_measurement: Ident | None = "image_hfr"
    stars_measurement: Ident | None = "image_star_count"
    rms_measurement: Ident | None = "image_rms_avg_arcsec"
    #: The exporter's "arcsec" values are usually pixels; declare what yours are.
    rms_unit: RmsUnit = "px"
    sensor_temp_measurement: Ident | None = "camera_sensor_temperature"
    light_value: ConfValue = "LIGHT"
    #: Events are written in ms, metrics in ns: how far apart a metric and its event may be.
    join_tolerance_ms: int = Field(2000, ge=0, le=60_000)
