"""A stdio MCP server that misbehaves on request: it hangs, answers too much, or answers
with a message that is not valid JSON-RPC.

Run: ``python misbehaving.py``.
"""

from __future__ import annotations

import asyncio
import json
import os

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("misbehaving")
#: The protocol stream itself (the SDK diverts fd 1 to stderr once it serves stdio).
WIRE = os.dup(1)


@server.tool(name="hang")
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "late"


@server.tool(name="huge")
def huge(megabytes: int) -> str:
    """A text of ``megabytes`` MiB."""
    return "x" * (megabytes * 1024 * 1024)


@server.tool(name="garbage")
async def garbage(ctx: Context) -> str:
    """Answers its own request with a result that is not an object, then a line that is not
    JSON at all, and never with a valid answer."""
    rid = ctx.request_id
    bad = json.dumps({"jsonrpc": "2.0", "id": rid, "result": "not an object"})
    os.write(WIRE, (bad + "\nthis is not JSON at all\n").encode())
    await asyncio.sleep(3600)
    return "never seen"


@server.tool(name="ok")
def ok() -> str:
    """A tool that works."""
    return "fine"


if __name__ == "__main__":
    server.run("stdio")
