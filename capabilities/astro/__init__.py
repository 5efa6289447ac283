"""astro: astrophotography imaging sessions from InfluxDB (InfluxQL or Flux)."""

from __future__ import annotations

import httpx

from gateway.capability import Capability, Resources, SetupContext, now_utc

from .client import InfluxQLClient
from .doctor import doctor
from .flux import FluxClient
from .frames import AstroBackend, FrameSource
from .sample import SAMPLE_URL, sample_transport
from .schemas import AstroConfig, AstroScope
from .tools import TOOLS

__all__ = ["CAPABILITY", "AstroConfig", "AstroScope", "setup"]


async def setup(ctx: SetupContext) -> Resources:
    config = ctx.config
    assert isinstance(config, AstroConfig)
    if ctx.sample:
        demo = config.model_copy(update={"backend": "influxql", "layout": "wide"})
        http = httpx.AsyncClient(
            base_url=SAMPLE_URL, transport=sample_transport(demo.wide, now_utc().date())
        )
        source: FrameSource = InfluxQLClient(http, demo)

        async def close() -> None:
            await http.aclose()

        return Resources(clients={AstroBackend: AstroBackend(source)}, close=close)
    guarded = ctx.http(config.upstream)  # owned and closed by the gateway
    if config.backend == "flux":
        source = FluxClient(guarded, config)
    else:
        source = InfluxQLClient(guarded, config)
    return Resources(clients={AstroBackend: AstroBackend(source)})


CAPABILITY = Capability(
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
