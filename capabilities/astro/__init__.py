"""astro: astrophotography imaging sessions from InfluxDB (InfluxQL or Flux)."""

from __future__ import annotations

from gateway.capability import Capability, Resources, SetupContext, now_utc

from .client import InfluxQLClient
from .doctor import doctor
from .flux import FluxClient
from .frames import AstroBackend, FrameSource
from .sample import sample_transport
from .schemas import AstroConfig, AstroScope
from .tools import TOOLS

__all__ = ["CAPABILITY", "AstroConfig", "AstroScope", "setup"]


async def setup(ctx: SetupContext[AstroConfig]) -> Resources:
    config = ctx.config
    if ctx.sample:
        demo = config.model_copy(update={"backend": "influxql", "layout": "wide"})
        http = ctx.sample_http(sample_transport(demo.wide, now_utc().date()))
        source: FrameSource = InfluxQLClient(http, demo)
        return Resources(clients={AstroBackend: AstroBackend(source)})
    guarded = ctx.http(config.upstream)  # owned and closed by the gateway
    if config.backend == "flux":
        source = FluxClient(guarded, config)
    else:
        source = InfluxQLClient(guarded, config)
    return Resources(clients={AstroBackend: AstroBackend(source)})


CAPABILITY: Capability[AstroConfig, AstroScope] = Capability(
    name="astro",
    title="Astrophotography sessions",
    description=(
        "Imaging sessions recorded in InfluxDB: what was imaged on which night, integration "
        "per target and filter, interruptions and quality (HFR, stars, guiding RMS)."
    ),
    tools=TOOLS,
    config_model=AstroConfig,
    scope_model=AstroScope,
    setup=setup,
    doctor=doctor,
)
