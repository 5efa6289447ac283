"""The identity provider is an upstream like any other: one way out of the process.

Discovery, JWKS and introspection requests go through :mod:`gateway.upstream`: origin pinned,
no redirects, no proxy from the environment, connect/read timeouts and a total deadline, the
shared body cap (also after decompression), a circuit breaker, and the upstream metrics
(``labgate_upstream_requests_total{upstream="oidc"}``; breaker state in
``labgate_upstream_breaker_state``). Failures arrive as :class:`gateway.errors.UpstreamFailure`
and are turned into auth reasons by the callers (JWKS: keep the last good ring; introspection:
fail closed).

    IdpEgress("oidc", max_bytes=..., timeout=...)        # discovery and JWKS
      .client(url) -> GuardedClient for url's origin      # built once per origin
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from gateway.telemetry import Telemetry
from gateway.upstream import Breaker, BreakerSettings, UpstreamSettings, build_client

__all__ = ["IDP_UPSTREAM", "INTROSPECTION_UPSTREAM", "IdpEgress"]

#: Upstream names the identity provider's requests are counted under.
IDP_UPSTREAM = "oidc"
INTROSPECTION_UPSTREAM = "oidc_introspection"


class IdpEgress:
    """Guarded clients to one identity provider endpoint family, sharing one breaker."""

    def __init__(
        self,
        name: str,
        *,
        max_bytes: int,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: Telemetry | None = None,
        breaker: BreakerSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        b = breaker or BreakerSettings()
        self.name = name
        self.breaker = Breaker(b.failures, b.reset_seconds, clock=clock)
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._transport = transport
        self._telemetry = telemetry
        self._clients: dict[str, httpx.AsyncClient] = {}
        if telemetry is not None:
            telemetry.add_breaker_source(lambda: {self.name: str(self.breaker.state)})

    def client(self, url: str) -> httpx.AsyncClient:
        """The guarded client for the origin of ``url`` (pass ``url`` itself to it)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}/"
        client = self._clients.get(origin)
        if client is None:
            settings = UpstreamSettings(
                base_url=origin,
                connect_timeout=min(self._timeout, 60.0),
                read_timeout=self._timeout,
                total_timeout=self._timeout,
                max_response_bytes=self._max_bytes,
                retries=0,  # JWKS refetches are paced; introspection is asked per call
                check_json=False,  # the callers parse, and say what was wrong
            )
            client = build_client(
                self.name,
                settings,
                transport=self._transport,
                telemetry=self._telemetry,
                breaker=self.breaker,
            )
            self._clients[origin] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
