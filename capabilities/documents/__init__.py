"""documents: full-text search and reading in a paperless-ngx archive, under a policy scope.

See README.md in this folder for the tools, the config, a policy example and the limits.
"""

from __future__ import annotations

from gateway.capability import Capability, Resources, SetupContext

from . import sample
from .client import PaperlessClient
from .doctor import doctor
from .schemas import DocumentsConfig, DocumentsScope
from .tools import TOOLS

__all__ = ["CAPABILITY", "setup"]


async def setup(ctx: SetupContext) -> Resources:
    """One client per gateway: over the guarded upstream client, or the sample archive."""
    config = ctx.config
    if not isinstance(config, DocumentsConfig):
        raise TypeError("documents setup needs a DocumentsConfig")
    if ctx.sample:
        import httpx

        http = httpx.AsyncClient(base_url=sample.BASE_URL, transport=sample.transport())

        async def close() -> None:
            await http.aclose()

        client = PaperlessClient(http, cache_ttl_seconds=config.name_cache_ttl_seconds)
        return Resources(clients={PaperlessClient: client}, close=close)
    # The guarded client belongs to the gateway (gateway/upstream.py), which closes it.
    guarded = ctx.http(config.upstream)
    client = PaperlessClient(guarded, cache_ttl_seconds=config.name_cache_ttl_seconds)
    return Resources(clients={PaperlessClient: client})


CAPABILITY = Capability(
    name="documents",
    title="Documents (paperless-ngx)",
    description="Search the document archive and read a document's text, limited to the "
    "slice the policy allows (tags, correspondents, types, dates) and to a text length.",
    tools=TOOLS,
    config_model=DocumentsConfig,
    scope_model=DocumentsScope,
    setup=setup,
    doctor=doctor,
)
