"""documents: full-text search and reading in a paperless-ngx archive, under a policy scope.

See README.md in this folder for the tools, the config, a policy example and the limits.
"""

from __future__ import annotations

from typing import Any

from gateway.capability import Capability, Resources, SetupContext

from . import sample
from .client import PaperlessClient, PaperlessWriter
from .doctor import doctor
from .propose import APPLIERS
from .propose import TOOLS as PROPOSING
from .schemas import DocumentsConfig, DocumentsScope
from .tools import TOOLS

__all__ = ["CAPABILITY", "setup"]


async def setup(ctx: SetupContext[DocumentsConfig]) -> Resources:
    """One client per gateway: over the guarded upstream client, or the sample archive.

    Both clients belong to the gateway, which closes them."""
    config = ctx.config
    http = ctx.sample_http(sample.transport()) if ctx.sample else ctx.http(config.upstream)
    client = PaperlessClient(http, cache_ttl_seconds=config.name_cache_ttl_seconds)
    clients: dict[type[Any], Any] = {PaperlessClient: client}
    if not ctx.sample and config.write_upstream is not None:
        # Its own token: the only one that may change data.
        clients[PaperlessWriter] = PaperlessWriter(ctx.http(config.write_upstream))
    return Resources(clients=clients)


CAPABILITY: Capability[DocumentsConfig, DocumentsScope] = Capability(
    name="documents",
    title="Documents (paperless-ngx)",
    description="Search the document archive and read a document's text, limited to the "
    "slice the policy allows (tags, correspondents, types, dates) and to a text length; "
    "propose metadata changes that a human approves before they are written.",
    tools=TOOLS + PROPOSING,
    config_model=DocumentsConfig,
    scope_model=DocumentsScope,
    setup=setup,
    doctor=doctor,
    appliers=APPLIERS,
)
