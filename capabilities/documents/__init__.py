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


async def setup(ctx: SetupContext[DocumentsConfig]) -> Resources:
    """One client per gateway: over the guarded upstream client, or the sample archive.

    Both clients belong to the gateway, which closes them."""
    config = ctx.config
    http = ctx.sample_http(sample.transport()) if ctx.sample else ctx.http(config.upstream)
    client = PaperlessClient(http, cache_ttl_seconds=config.name_cache_ttl_seconds)
    return Resources(clients={PaperlessClient: client})


CAPABILITY: Capability[DocumentsConfig, DocumentsScope] = Capability(
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
