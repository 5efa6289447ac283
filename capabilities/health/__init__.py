"""health: service health from Uptime Kuma (``/metrics`` and public status pages)."""

from __future__ import annotations

from gateway.capability import Capability, Resources, SetupContext

from .client import KumaClient
from .doctor import doctor
from .sample import sample_client
from .schemas import HealthConfig, HealthScope
from .tools import TOOLS

__all__ = ["CAPABILITY", "HealthConfig", "HealthScope", "KumaClient", "setup"]


async def setup(ctx: SetupContext) -> Resources:
    config = ctx.config
    if not isinstance(config, HealthConfig):
        raise TypeError("health: setup needs a HealthConfig")
    if not ctx.sample:
        return Resources(clients={KumaClient: KumaClient(ctx.http(config.upstream), config)})
    http = sample_client()
    return Resources(clients={KumaClient: KumaClient(http, config)}, close=http.aclose)


CAPABILITY = Capability(
    name="health",
    title="Service health",
    description=(
        "What is up and what is down in the lab, and since when, from Uptime Kuma. "
        "Monitor addresses are hidden unless the policy shows them."
    ),
    tools=TOOLS,
    config_model=HealthConfig,
    scope_model=HealthScope,
    setup=setup,
    doctor=doctor,
)
