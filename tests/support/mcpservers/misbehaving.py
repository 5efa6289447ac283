"""A stdio MCP server that misbehaves on request: it hangs, answers too much, or answers
with a message that is not valid JSON-RPC.

Run: ``python misbehaving.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("misbehaving")


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
def garbage(ctx: Context) -> str:  # type: ignore[type-arg]
    """Answers its own request with a result that is not an object, then exits."""
    rid = ctx.request_id
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "result": "not an object"}) + "\n")
    sys.stdout.write("this is not JSON at all\n")
    sys.stdout.flush()
    return "never seen"


@server.tool(name="ok")
def ok() -> str:
    """A tool that works."""
    return "fine"


if __name__ == "__main__":
    server.run("stdio")
