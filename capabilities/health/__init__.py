"""health: service health from Uptime Kuma (``/metrics`` and public status pages)."""

from __future__ import annotations

from gateway.capability import Capability, Resources, SetupContext

from .client import KumaClient
from .doctor import doctor
from .sample import sample_transport
from .schemas import HealthConfig, HealthScope
from .tools import TOOLS

__all__ = ["CAPABILITY", "HealthConfig", "HealthScope", "KumaClient", "setup"]


async def setup(ctx: SetupContext[HealthConfig]) -> Resources:
    """One client per gateway, over the guarded upstream client or the sample Kuma (both
    belong to the gateway, which closes them)."""
    config = ctx.config
    http = ctx.sample_http(sample_transport()) if ctx.sample else ctx.http(config.upstream)
    return Resources(clients={KumaClient: KumaClient(http, config)})


CAPABILITY: Capability[HealthConfig, HealthScope] = Capability(
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
