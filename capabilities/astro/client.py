"""InfluxQL over ``POST /query``: InfluxDB 1.x natively, 2.x/3.x through the v1 API.

The only code that talks InfluxQL to the service. It gets an injected ``httpx.AsyncClient``
(base URL, credentials, timeouts, size cap and breaker are the gateway's) and sends exactly
one fixed statement per request, agent values bound through ``params``.

Answers are requested chunked: a server's ``max-row-limit`` (often 1,000) cuts a plain answer
(the first series ends with ``"partial": true`` on the series only, later series are simply
missing), while a chunked answer streams every row, ``"partial": true`` on every chunk but the
last. A cut that is still reported after the last chunk makes the batch partial.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from .frames import FrameBatch, FrameQuery, SourceError
from .influxql import Statement, nina_frames, nina_statement, wide_frames, wide_statement
from .schemas import AstroConfig

__all__ = ["InfluxQLClient"]

#: Lets the gateway's guarded client retry this POST on connect errors (it only reads).
#: Retried on connection errors (a read), and checked as JSON lines (a chunked answer).
IDEMPOTENT = {"labgate_idempotent": True, "labgate_json_lines": True}
#: Rows per chunk of a chunked answer (influxd's own default).
CHUNK_SIZE = 10_000


class InfluxQLClient:
    def __init__(self, http: httpx.AsyncClient, config: AstroConfig) -> None:
        self._http = http
        self._config = config

    def statement(self, query: FrameQuery) -> Statement:
        c = self._config
        if c.layout == "wide":
            return wide_statement(c.wide, c.retention_policy, query)
        return nina_statement(c.nina, c.retention_policy, query)

    async def fetch(self, query: FrameQuery) -> FrameBatch:
        text, params = self.statement(query)
        series, partial = await self.run(text, params)
        c = self._config
        frames = wide_frames(c.wide, series) if c.layout == "wide" else nina_frames(c.nina, series)
        # LIMIT is per series: more rows than the cap in any series means older rows were left
        # out of it; a series the server flagged was cut there too.
        cut = [s for s in series if s.get("partial") or len(s.get("values") or []) > query.limit]
        if partial and not cut:
            cut = series  # the answer says "partial" but not where: assume every series
        complete_after = _complete_after(cut, query.limit)
        if cut or len(frames) > query.limit:
            partial = True
            frames = frames[: query.limit]
        return FrameBatch(
            frames=frames, partial=partial, complete_after=complete_after, statements=1
        )

    async def run(self, text: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """POST one statement; return its series and whether InfluxDB marked it partial."""
        form = {
            "q": text,
            "db": self._config.database,
            "params": json.dumps(params),
            "epoch": "ms",
            "chunked": "true",
            "chunk_size": str(CHUNK_SIZE),
        }
        if self._config.retention_policy:
            form["rp"] = self._config.retention_policy
        response = await self._http.post("/query", data=form, extensions=IDEMPOTENT)
        if response.status_code in (401, 403):
            raise SourceError("credentials", f"credentials rejected ({response.status_code})")
        if response.status_code == 404:
            raise SourceError("not_found", "no /query endpoint (404)")
        try:
            bodies = _json_lines(response.text)
        except ValueError:
            raise SourceError("bad_response", f"non-JSON answer ({response.status_code})") from None
        if response.status_code != 200:
            raise SourceError("rejected", f"{response.status_code}: {_error_text(bodies[0])}")
        return _merge([_series(body) for body in bodies])


def _json_lines(text: str) -> list[Any]:
    """A chunked answer is one JSON document per line; a plain one is a single document."""
    bodies = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not bodies:
        raise ValueError("empty answer")
    return bodies


def _merge(chunks: list[tuple[list[dict[str, Any]], bool]]) -> tuple[list[dict[str, Any]], bool]:
    """Join chunks: a series split over chunks becomes one again (LIMIT is per series).

    Only the last chunk's flags say whether the answer is complete; earlier chunks are
    always marked partial (more follows).
    """
    merged: dict[str, dict[str, Any]] = {}
    for i, (series, _) in enumerate(chunks):
        for s in series:
            key = json.dumps([s.get("name"), s.get("tags"), s.get("columns")], sort_keys=True)
            into = merged.setdefault(key, {**s, "values": [], "partial": False})
            into["values"] += s.get("values") or []
            into["partial"] = i == len(chunks) - 1 and bool(s.get("partial"))
    return list(merged.values()), chunks[-1][1]


def _complete_after(cut: list[dict[str, Any]], limit: int) -> datetime | None:
    """The newest of the cut series' oldest kept rows (rows are newest first): every row
    after that instant was fetched."""
    oldest = [values[:limit][-1][0] for s in cut if (values := s.get("values") or [])]
    times = [t for t in oldest if isinstance(t, int) and not isinstance(t, bool)]
    return datetime.fromtimestamp(max(times) / 1000, tz=UTC) if times else None


def _error_text(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else "no error text"


def _series(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise SourceError("bad_response", "answer without results")
    results = body["results"]
    if len(results) != 1 or not isinstance(results[0], dict):
        raise SourceError("bad_response", f"expected one result, got {len(results)}")
    result = results[0]
    if isinstance(result.get("error"), str):
        error: str = result["error"]
        kind = "not_found" if error.startswith("database not found") else "rejected"
        raise SourceError(kind, error)
    series = result.get("series") or []
    if not isinstance(series, list) or not all(isinstance(s, dict) for s in series):
        raise SourceError("bad_response", "malformed series")
    partial = (
        bool(result.get("partial"))
        or bool(body.get("partial"))
        or any(bool(s.get("partial")) for s in series)  # max-row-limit flags only the series
    )
    return series, partial
