"""The only code that talks to a fronted MCP server: connect, list tools, call.

Streamable HTTP and stdio are spoken by the official MCP SDK (``mcp``), which negotiates the
protocol era (``auto``: the 2026 ``server/discover`` probe, falling back to the ``initialize``
handshake). labgate adds around it what it adds to every upstream: its own credential read
from a file (the agent's token never goes upstream), no redirects off the configured origin,
connect and call deadlines, a size cap (HTTP answers to a POST are cut while they are read,
every result is measured), no proxy from the environment, and for stdio a
child with a clean environment, no inherited descriptors and its stderr discarded.

Failures leave as the four exceptions below, never as SDK or upstream text (their message is
for logs only); ``tools.py`` maps them to gateway errors.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import httpx2
import mcp_types as types
from mcp.client.client import Client
from mcp.client.session import IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared.exceptions import MCPError

from gateway.secrets import read_secret_file

from .schemas import HttpServer, ServerConfig, StdioServer

__all__ = [
    "Connection",
    "LinkBroken",
    "LinkDown",
    "LinkSlow",
    "LinkTooLarge",
    "connect",
    "secret_values",
]

#: Read timeout of the HTTP client: a server may hold an event stream open between events.
_STREAM_READ_SECONDS = 300.0
_MAX_PAGES = 50


class LinkDown(Exception):
    """Not connected, or the connection was lost."""


class LinkSlow(Exception):
    """No answer within the deadline."""


class LinkBroken(Exception):
    """The server answered with a protocol error, a JSON-RPC error or an unusable result."""


class LinkTooLarge(Exception):
    """The server's answer is larger than ``max_result_bytes``."""


def secret_values(name: str, config: ServerConfig) -> list[tuple[str, str]]:
    """(label, value) of every secret of this server, for the result scrubber."""
    out: list[tuple[str, str]] = []
    if isinstance(config, HttpServer) and config.auth is not None:
        key = f"capabilities.mcp_upstream.servers.{name}.auth.secret_file"
        out.append((f"mcp_upstream:{name}", read_secret_file(config.auth.secret_file, key)))
    if isinstance(config, StdioServer):
        for var, path in config.env_files.items():
            key = f"capabilities.mcp_upstream.servers.{name}.env_files.{var}"
            out.append((f"mcp_upstream:{name}", read_secret_file(path, key)))
    return out


#: Room for HTTP/SSE framing around an answer of ``max_result_bytes``.
_FRAMING_BYTES = 64 * 1024


class _CappedBody(httpx2.AsyncByteStream):
    """A response body that ends early once it exceeds ``limit`` bytes."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, heard: _Heard) -> None:
        self._inner = inner
        self._limit = limit
        self._heard = heard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        async for chunk in self._inner:
            total += len(chunk)
            if total > self._limit:
                # Stop reading: the answer ends here, unreadable, and the call fails for its
                # size (raising instead would end the whole session in the SDK).
                self._heard.oversized += 1
                return
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedTransport(httpx2.AsyncBaseTransport):
    """Caps the body of every answer to a POST (a JSON answer or the event stream that carries
    it); the long-lived GET event stream is capped per event by the SDK instead."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int, heard: _Heard) -> None:
        self._inner = inner
        self._limit = limit
        self._heard = heard

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST":
            return response
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedBody(stream, self._limit, self._heard),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _http_client(name: str, config: HttpServer, heard: _Heard) -> httpx2.AsyncClient:
    headers = dict(config.headers)
    if config.auth is not None:
        key = f"capabilities.mcp_upstream.servers.{name}.auth.secret_file"
        secret = read_secret_file(config.auth.secret_file, key)
        if config.auth.scheme == "bearer":
            headers["Authorization"] = f"Bearer {secret}"
        else:
            assert config.auth.header is not None  # guaranteed by HttpAuth
            headers[config.auth.header] = secret
    verify: ssl.SSLContext | bool = True
    if isinstance(config.verify_tls, Path):
        verify = ssl.create_default_context(cafile=str(config.verify_tls))
    else:
        verify = config.verify_tls
    inner = httpx2.AsyncHTTPTransport(verify=verify, trust_env=False)
    limit = config.max_result_bytes + _FRAMING_BYTES
    return httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(config.connect_timeout, read=_STREAM_READ_SECONDS),
        transport=_CappedTransport(inner, limit, heard),
        follow_redirects=False,
        trust_env=False,
    )


def _stdio_params(name: str, config: StdioServer) -> StdioServerParameters:
    env = dict(config.env)
    for var, path in config.env_files.items():
        key = f"capabilities.mcp_upstream.servers.{name}.env_files.{var}"
        env[var] = read_secret_file(path, key)
    return StdioServerParameters(
        command=config.command,
        args=list(config.args),
        env=env,
        cwd=config.cwd,
        encoding_error_handler="replace",
    )


OnToolsChanged = Callable[[], Awaitable[None]]


class _Heard:
    """What the session heard besides answers: unreadable messages and answers cut for their
    size are counted (so a call that fails meanwhile is reported for what happened)."""

    def __init__(self, on_changed: OnToolsChanged) -> None:
        self.on_changed = on_changed
        self.unreadable = 0
        self.oversized = 0

    async def __call__(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            # A message that is not valid JSON-RPC: a call waiting now will never get its
            # answer read (its timeout becomes upstream_error); check the server too.
            self.unreadable += 1
            await self.on_changed()
        elif isinstance(message, types.ToolListChangedNotification):
            await self.on_changed()
        else:
            await asyncio.sleep(0)


class Connection:
    """One live session with one server."""

    def __init__(self, client: Client, config: ServerConfig, heard: _Heard) -> None:
        self._client = client
        self._config = config
        self._heard = heard

    @property
    def protocol_version(self) -> str:
        return self._client.protocol_version

    async def list_tools(self) -> list[types.Tool]:
        """Every tool the server lists (all pages), at most ``max_tools``."""
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._guard(
                self._client.list_tools(cursor=cursor, cache_mode="refresh"),
                self._config.call_timeout,
            )
            tools.extend(page.tools)
            if len(tools) > self._config.max_tools:
                raise LinkBroken(f"more than {self._config.max_tools} tools listed")
            cursor = page.next_cursor
            if not cursor:
                return tools
        raise LinkBroken(f"tool listing has more than {_MAX_PAGES} pages")

    async def call(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        deadline = self._config.call_timeout
        unreadable = self._heard.unreadable
        oversized = self._heard.oversized
        try:
            result = await self._guard(
                self._client.call_tool(tool, arguments, read_timeout_seconds=deadline), deadline
            )
        except (LinkSlow, LinkDown, LinkBroken):
            if self._heard.oversized != oversized:
                limit = self._config.max_result_bytes
                raise LinkTooLarge(f"answer cut at more than {limit} bytes") from None
            if self._heard.unreadable != unreadable:
                raise LinkBroken("the server sent a message that is not valid JSON-RPC") from None
            raise
        if not isinstance(result, types.CallToolResult):
            raise LinkBroken(f"tools/call answered {type(result).__name__}")
        size = len(result.model_dump_json(by_alias=True, exclude_none=True))
        if size > self._config.max_result_bytes:
            raise LinkTooLarge(f"result of {size} bytes (limit {self._config.max_result_bytes})")
        return result

    async def follow_changes(self, on_changed: OnToolsChanged) -> None:
        """2026-07-28 era: ``subscriptions/listen`` for tool list changes, until it ends.

        (The handshake era delivers ``notifications/tools/list_changed`` to the message
        handler instead.) A server that does not offer it is listed periodically only.
        """
        try:
            async with self._client.listen(tools_list_changed=True) as subscription:
                if not subscription.honored.tools_list_changed:
                    return
                async for _event in subscription:
                    await on_changed()
        except (ListenNotSupportedError, SubscriptionLost, MCPError, TimeoutError):
            return

    async def _guard(self, work: Awaitable[Any], deadline: float) -> Any:
        try:
            async with asyncio.timeout(deadline + 1.0):
                return await work
        except TimeoutError:
            raise LinkSlow(f"no answer within {deadline} s") from None
        except MCPError as exc:
            if exc.code == types.REQUEST_TIMEOUT:
                raise LinkSlow(f"no answer within {deadline} s") from None
            if exc.code == types.CONNECTION_CLOSED:
                raise LinkDown("connection closed") from None
            raise LinkBroken(f"JSON-RPC error {exc.code}") from None
        except (LinkBroken, LinkDown, LinkSlow, LinkTooLarge):
            raise
        except (OSError, ConnectionError, EOFError) as exc:
            raise LinkDown(type(exc).__name__) from None
        except Exception as exc:  # SDK validation of a malformed answer, closed streams
            name = type(exc).__name__
            if "Closed" in name or "Broken" in name or "EndOfStream" in name:
                raise LinkDown(name) from None
            raise LinkBroken(name) from None


@asynccontextmanager
async def connect(
    name: str, config: ServerConfig, on_tools_changed: OnToolsChanged, errlog: TextIO
) -> AsyncIterator[Connection]:
    """A connected, negotiated session; :class:`LinkDown` / :class:`LinkSlow` when it fails."""
    heard = _Heard(on_tools_changed)
    async with AsyncExitStack() as stack:
        if isinstance(config, HttpServer):
            http = await stack.enter_async_context(_http_client(name, config, heard))
            transport: Any = streamable_http_client(
                config.url,
                http_client=http,
                max_sse_event_size=config.max_result_bytes + 2 * _FRAMING_BYTES,
            )
        else:
            transport = stdio_client(_stdio_params(name, config), errlog=errlog)
        client = Client(
            transport,
            mode=config.protocol,
            read_timeout_seconds=config.call_timeout,
            message_handler=heard,
            client_info=types.Implementation(name="labgate", version="1"),
            cache=None,
        )
        try:
            async with asyncio.timeout(config.connect_timeout):
                await stack.enter_async_context(client)
        except TimeoutError:
            raise LinkSlow(f"no handshake within {config.connect_timeout} s") from None
        except MCPError as exc:
            raise LinkBroken(f"handshake refused: JSON-RPC error {exc.code}") from None
        except OSError as exc:
            raise LinkDown(f"cannot start or reach the server: {type(exc).__name__}") from None
        yield Connection(client, config, heard)


def devnull() -> TextIO:
    """Where a stdio server's stderr goes: nowhere (it may print its own secrets)."""
    return open(os.devnull, "w", encoding="utf-8")
