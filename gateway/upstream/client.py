"""``build_client``: the one place an ``httpx.AsyncClient`` for an upstream is made."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

import httpx

from gateway.errors import ConfigError, UpstreamError
from gateway.telemetry import Telemetry
from gateway.upstream.breaker import Breaker
from gateway.upstream.guard import check_reference
from gateway.upstream.settings import UpstreamSettings
from gateway.upstream.transport import GuardedTransport

__all__ = ["USER_AGENT", "GuardedClient", "build_client"]

log = logging.getLogger(__name__)

USER_AGENT = "labgate"


class GuardedClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that refuses URL references escaping its base URL.

    The check runs on the text the caller passed, before httpx merges it with the base URL
    (merging would silently turn ``/../x`` into ``/x`` and ``//evil/`` into the base path).
    """

    def __init__(
        self, *, upstream: str, breaker: Breaker, transport: GuardedTransport, **kwargs: Any
    ) -> None:
        super().__init__(transport=transport, **kwargs)
        self.upstream = upstream
        self.breaker = breaker
        self.guarded = transport

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        reason = check_reference(url)
        if reason is not None:
            log.warning("upstream %s: %s refused: %s", self.upstream, method, reason)
            raise UpstreamError(self.upstream, internal=f"request refused: {reason}")
        return super().build_request(method, url, **kwargs)


def build_client(
    name: str,
    settings: UpstreamSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    telemetry: Telemetry | None = None,
    breaker: Breaker | None = None,
) -> GuardedClient:
    """A client pinned to ``settings.base_url``; ``transport`` replaces the network (tests, demo).

    Reads the credential file now: a missing or empty secret is a :class:`ConfigError`.
    """
    if breaker is None:
        breaker = Breaker(settings.breaker.failures, settings.breaker.reset_seconds)
    inner = transport or httpx.AsyncHTTPTransport(
        verify=_tls(name, settings.verify_tls),
        trust_env=False,
        retries=0,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=5),
    )
    guarded = GuardedTransport(inner, name, settings, breaker, telemetry=telemetry)
    return GuardedClient(
        upstream=name,
        breaker=breaker,
        base_url=settings.base_url,
        transport=guarded,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        headers={"User-Agent": USER_AGENT, **settings.headers},
    )


def _tls(name: str, verify: bool | Path) -> ssl.SSLContext | bool:
    if verify is False:
        log.warning("upstream %s: TLS certificate verification is off", name)
        return False
    if verify is True:
        return True
    try:
        return ssl.create_default_context(cafile=str(verify))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"upstream {name}: cannot load CA file ({type(exc).__name__})",
            key=f"upstreams.{name}.verify_tls",
        ) from None
