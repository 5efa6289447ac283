"""The only code that talks to Uptime Kuma.

The injected ``httpx.AsyncClient`` has the upstream base URL (and, for ``/metrics``, the API
key as HTTP Basic credentials) set by the gateway; this module never sees a secret. Every read
goes through a TTL cache with single-flight, and every request has its own deadline: Uptime
Kuma 1.23 never answers ``/api/status-page/<unknown slug>``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from gateway.capability import SingleFlight
from gateway.errors import GatewayError

from .parse import (
    BadResponse,
    Heartbeats,
    MetricMonitor,
    PageData,
    parse_heartbeats,
    parse_metrics,
    parse_status_page,
)
from .schemas import HealthConfig

__all__ = ["KumaClient", "KumaError", "Sources"]

Kind = Literal["auth", "not_found", "bad_response", "timeout", "unavailable"]


class KumaError(Exception):
    """An upstream answer this client cannot use; ``internal`` is for logs only."""

    def __init__(self, kind: Kind, internal: str) -> None:
        self.kind: Kind = kind
        self.internal = internal
        super().__init__(f"{kind}: {internal}")


@dataclass(slots=True)
class Sources:
    """What one read of every configured source produced."""

    metrics: list[MetricMonitor] | None = None
    pages: dict[str, PageData] = field(default_factory=dict)
    heartbeats: dict[str, Heartbeats] = field(default_factory=dict)
    #: source name ("metrics", "page:<slug>") -> the error it raised
    failures: dict[str, Exception] = field(default_factory=dict)


class KumaClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        config: HealthConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._config = config
        self._timeout = config.request_timeout_seconds
        err_ttl = config.error_ttl_seconds
        self._metrics_cache: SingleFlight[list[MetricMonitor]] = SingleFlight(
            config.metrics_ttl_seconds, error_ttl=err_ttl, clock=clock
        )
        self._page_cache: SingleFlight[PageData] = SingleFlight(
            config.status_page_ttl_seconds, error_ttl=err_ttl, clock=clock
        )
        self._beat_cache: SingleFlight[Heartbeats] = SingleFlight(
            config.status_page_ttl_seconds, error_ttl=err_ttl, clock=clock
        )

    @property
    def upstream(self) -> str:
        return self._config.upstream

    @property
    def fetch_count(self) -> int:
        """Upstream requests started so far (all sources)."""
        caches = (self._metrics_cache, self._page_cache, self._beat_cache)
        return sum(c.fetches for c in caches)

    async def metrics(self) -> list[MetricMonitor]:
        return await self._metrics_cache.get("metrics", self._fetch_metrics)

    async def status_page(self, slug: str) -> PageData:
        return await self._page_cache.get(slug, lambda: self._fetch_page(slug))

    async def heartbeats(self, slug: str) -> Heartbeats:
        return await self._beat_cache.get(slug, lambda: self._fetch_heartbeats(slug))

    async def read_all(self) -> Sources:
        """Read every configured source concurrently; a failing source is recorded, not raised."""
        out = Sources()

        async def metrics() -> None:
            try:
                out.metrics = await self.metrics()
            except (KumaError, GatewayError) as exc:
                out.failures["metrics"] = exc

        async def page(slug: str) -> None:
            got = await asyncio.gather(
                self.status_page(slug), self.heartbeats(slug), return_exceptions=True
            )
            for result in got:
                if isinstance(result, BaseException):
                    if not isinstance(result, KumaError | GatewayError):
                        raise result
                    out.failures[f"page:{slug}"] = result
                    return
            page_data, beats = got
            assert isinstance(page_data, PageData) and isinstance(beats, Heartbeats)
            out.pages[slug], out.heartbeats[slug] = page_data, beats

        async with asyncio.TaskGroup() as group:
            if self._config.metrics:
                group.create_task(metrics())
            for slug in self._config.status_pages:
                group.create_task(page(slug))
        return out

    async def _fetch_metrics(self) -> list[MetricMonitor]:
        response = await self._get("/metrics")
        self._expect(response, "text/plain", "/metrics")
        try:
            return parse_metrics(response.text)
        except BadResponse as exc:
            raise KumaError("bad_response", f"/metrics: {exc}") from None

    async def _fetch_page(self, slug: str) -> PageData:
        path = f"/api/status-page/{slug}"
        data = await self._get_json(path)
        try:
            return parse_status_page(slug, data)
        except BadResponse as exc:
            raise KumaError("bad_response", f"{path}: {exc}") from None

    async def _fetch_heartbeats(self, slug: str) -> Heartbeats:
        path = f"/api/status-page/heartbeat/{slug}"
        data = await self._get_json(path)
        try:
            return parse_heartbeats(data)
        except BadResponse as exc:
            raise KumaError("bad_response", f"{path}: {exc}") from None

    async def _get_json(self, path: str) -> Any:
        response = await self._get(path)
        self._expect(response, "application/json", path)
        try:
            return json.loads(response.content)
        except ValueError:
            raise KumaError("bad_response", f"{path}: body is not JSON") from None

    async def _get(self, path: str) -> httpx.Response:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._http.get(path)
        except TimeoutError:
            raise KumaError("timeout", f"{path}: no answer in {self._timeout} s") from None
        except httpx.TimeoutException:
            raise KumaError("timeout", f"{path}: timed out") from None
        except httpx.TransportError as exc:
            raise KumaError("unavailable", f"{path}: {type(exc).__name__}") from None

    @staticmethod
    def _expect(response: httpx.Response, content_type: str, path: str) -> None:
        status = response.status_code
        if status in (401, 403):
            raise KumaError("auth", f"{path}: {status}: credentials rejected or rate limited")
        if status == 404:
            raise KumaError("not_found", f"{path}: 404")
        if status != 200:
            raise KumaError("bad_response", f"{path}: unexpected status {status}")
        got = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if got != content_type:
            raise KumaError("bad_response", f"{path}: content-type {got[:60]!r}")
