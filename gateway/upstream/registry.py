"""``Upstreams``: the app's upstream clients, one per configured name, built on first use."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

import httpx

from gateway.errors import ConfigError
from gateway.telemetry import Telemetry
from gateway.upstream.breaker import Breaker
from gateway.upstream.client import GuardedClient, build_client
from gateway.upstream.settings import UpstreamSettings

__all__ = ["UpstreamRegistry", "Upstreams"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class Upstreams:
    """Owned by the app's lifespan: ``get`` for capabilities, ``breaker_states`` for /readyz."""

    def __init__(
        self,
        settings: Mapping[str, UpstreamSettings],
        *,
        telemetry: Telemetry | None = None,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name in settings:
            if not _NAME.match(name):
                raise ConfigError(
                    f"upstream name {name!r} must be lower-case letters, digits, '_' or '-'",
                    key=f"upstreams.{name}",
                )
        self._settings = dict(settings)
        self._telemetry = telemetry
        self._transports = dict(transports or {})
        self._breakers = {
            name: Breaker(s.breaker.failures, s.breaker.reset_seconds, clock=clock)
            for name, s in self._settings.items()
        }
        self._clients: dict[str, GuardedClient] = {}
        self._closed = False
        if telemetry is not None:
            telemetry.add_breaker_source(self.breaker_states)

    def names(self) -> tuple[str, ...]:
        return tuple(self._settings)

    def get(self, name: str) -> httpx.AsyncClient:
        """The client of upstream ``name``, built once; ``ConfigError`` when not configured."""
        if self._closed:
            raise RuntimeError("upstream clients are closed")
        client = self._clients.get(name)
        if client is None:
            settings = self._settings.get(name)
            if settings is None:
                raise ConfigError(f"upstream {name!r} is not configured", key=f"upstreams.{name}")
            client = build_client(
                name,
                settings,
                transport=self._transports.get(name),
                telemetry=self._telemetry,
                breaker=self._breakers[name],
            )
            self._clients[name] = client
        return client

    def build_all(self) -> None:
        """Build every client now, so a bad secret file or CA path fails at start-up."""
        for name in self._settings:
            self.get(name)

    def secrets(self) -> list[tuple[str, str]]:
        """(``upstream:<name>``, value) for every credential form of every upstream built."""
        return [
            (f"upstream:{name}", form)
            for name, client in self._clients.items()
            for form in client.guarded.secret_forms()
        ]

    def breaker_states(self) -> dict[str, str]:
        """``{name: "closed" | "open" | "half_open"}`` for every configured upstream."""
        return {name: str(b.state) for name, b in self._breakers.items()}

    async def aclose(self) -> None:
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


#: Alternative name used in the design notes.
UpstreamRegistry = Upstreams
