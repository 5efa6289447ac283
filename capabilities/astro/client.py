"""InfluxQL over ``POST /query``: InfluxDB 1.x natively, 2.x/3.x through the v1 API.

The only code that talks InfluxQL to the service. It gets an injected ``httpx.AsyncClient``
(base URL, credentials, timeouts, size cap and breaker are the gateway's) and sends exactly
one fixed statement per request, agent values bound through ``params``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .frames import FrameBatch, FrameQuery, SourceError
from .influxql import Statement, nina_frames, nina_statement, wide_frames, wide_statement
from .schemas import AstroConfig

__all__ = ["InfluxQLClient"]

#: Lets the gateway's guarded client retry this POST on connect errors (it only reads).
IDEMPOTENT = {"labgate_idempotent": True}


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
        if len(frames) > query.limit or any(
            len(s.get("values") or []) > query.limit for s in series
        ):
            partial = True
            frames = frames[: query.limit]
        return FrameBatch(frames=frames, partial=partial, statements=1)

    async def run(self, text: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """POST one statement; return its series and whether InfluxDB marked it partial."""
        form = {
            "q": text,
            "db": self._config.database,
            "params": json.dumps(params),
            "epoch": "ms",
        }
        if self._config.retention_policy:
            form["rp"] = self._config.retention_policy
        response = await self._http.post("/query", data=form, extensions=IDEMPOTENT)
        if response.status_code in (401, 403):
            raise SourceError("credentials", f"credentials rejected ({response.status_code})")
        if response.status_code == 404:
            raise SourceError("not_found", "no /query endpoint (404)")
        try:
            body = response.json()
        except ValueError:
            raise SourceError("bad_response", f"non-JSON answer ({response.status_code})") from None
        if response.status_code != 200:
            raise SourceError("rejected", f"{response.status_code}: {_error_text(body)}")
        return _series(body)


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
    partial = bool(result.get("partial")) or bool(body.get("partial"))
    return series, partial
