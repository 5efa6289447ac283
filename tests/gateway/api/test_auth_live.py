"""Over a real uvicorn socket: a request without a valid token is answered 401 while its body
is still arriving (a chunked body that never ends), on the REST and the MCP face."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.live import live_config, live_gateway  # noqa: F401  (fixture)

#: Only to notice a server that waits for the body forever; an answer needs no body at all.
GIVE_UP_SECONDS = 30.0


async def status_while_body_is_pending(base: str, path: str) -> int:
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Authorization: Bearer not.a.token\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "4\r\n[[[[\r\n"  # the first of chunks that never come
        )
        writer.write(head.encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), GIVE_UP_SECONDS)
        return int(status_line.split()[1])
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/v1/tools/testcap_echo", "/mcp"])
async def test_a_never_ending_body_gets_its_401_unread(
    live_gateway: Callable[[dict[str, Any]], Any],  # noqa: F811
    tmp_path: Path,
    path: str,
) -> None:
    with live_gateway(live_config(tmp_path)) as live:
        assert await status_while_body_is_pending(live.base, path) == 401
