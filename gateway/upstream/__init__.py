"""Every upstream byte goes through here: pinned base URL, no redirects, timeouts, size cap,
circuit breaker, credentials injected from files, errors mapped to :mod:`gateway.errors`.

    Upstreams(settings)                   # owned by the app lifespan
      .get(name) -> GuardedClient          # httpx.AsyncClient, built once per upstream
           └── GuardedTransport(inner, name, settings, breaker)
                 guard -> breaker -> credential -> retry/deadline -> capped body -> error map

Capabilities receive these clients through ``SetupContext.http(name)``; they never build one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.upstream.breaker import Breaker, BreakerState
    from gateway.upstream.client import GuardedClient, build_client
    from gateway.upstream.registry import UpstreamRegistry, Upstreams
    from gateway.upstream.settings import AuthSettings, BreakerSettings, UpstreamSettings
    from gateway.upstream.transport import (
        IDEMPOTENT_EXTENSION,
        GuardedTransport,
        UpstreamResponse,
    )

#: Where each name lives: imported on first use, so that reading settings
#: (``gateway.upstream.settings``) does not load the clients.
_HOME = {
    "Breaker": "breaker",
    "BreakerState": "breaker",
    "GuardedClient": "client",
    "build_client": "client",
    "UpstreamRegistry": "registry",
    "Upstreams": "registry",
    "AuthSettings": "settings",
    "BreakerSettings": "settings",
    "UpstreamSettings": "settings",
    "IDEMPOTENT_EXTENSION": "transport",
    "GuardedTransport": "transport",
    "UpstreamResponse": "transport",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "IDEMPOTENT_EXTENSION",
    "AuthSettings",
    "Breaker",
    "BreakerSettings",
    "BreakerState",
    "GuardedClient",
    "GuardedTransport",
    "UpstreamRegistry",
    "UpstreamResponse",
    "UpstreamSettings",
    "Upstreams",
    "build_client",
]
