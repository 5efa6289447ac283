"""The MCP face: Streamable HTTP at ``/mcp`` and ``/mcp/<capability>``, both protocol eras.

``mount_mcp(app, port)`` wires the face; ``mcp_lifespan(app)`` runs the SDK's session
managers and is entered from the app's lifespan, inside the runtime. Tools are listed and
called through the core pipeline, so MCP sees exactly what REST sees and is audited the same.
"""

from __future__ import annotations

from gateway.api.mcp.mount import McpFace, mcp_lifespan, mount_mcp

__all__ = ["McpFace", "mcp_lifespan", "mount_mcp"]
