"""PostgreSQL for tests: a fresh database per session, and a proxy that can refuse connections.

* ``pg_dsn`` (session): DSN of a new, uniquely named database, dropped at the end;
  ``pg_module_dsn`` the same for one module (tests that read back every row).
* ``pg_proxy``: a :class:`TcpProxy` on a free loopback port in front of the server;
  ``await pg_proxy.stop()`` cuts every connection and closes the port (clients get a real
  ECONNREFUSED), ``await pg_proxy.start()`` opens it again. ``pg_proxy.stall()`` keeps every
  connection open and accepts new ones but forwards no byte either way (a server that hangs)
  until ``pg_proxy.resume()``. ``proxied(dsn, proxy)`` rewrites a DSN to go through it.

Uses the PostgreSQL server of the test machine (127.0.0.1:5432, user ``postgres``, trust
auth). Register with ``pytest_plugins = ["tests.support.pg"]``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import asyncpg
import pytest

from tests.support.net import free_port

__all__ = [
    "ADMIN_DSN",
    "TcpProxy",
    "free_port",
    "fresh_database",
    "pg_dsn",
    "pg_module_dsn",
    "pg_proxy",
    "proxied",
]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """DSN of a new empty database (``labgate_test_<pid>_<random>``), dropped on exit."""
    name = f"labgate_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for this test: {exc!r}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A fresh database for this session, shared by its tests."""
    with fresh_database() as dsn:
        yield dsn


@pytest.fixture(scope="module")
def pg_module_dsn() -> Iterator[str]:
    """A fresh database of the module's own, for tests that read back every row."""
    with fresh_database() as dsn:
        yield dsn


class TcpProxy:
    """Forwards a free loopback port to a target; ``stop()`` closes the port (real refusals)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    def stall(self) -> None:
        """Accept and hold connections, forward nothing, answer nothing."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            self._flowing.set()  # held connections see their aborted client and end
            await self._server.wait_closed()
            self._server = None
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        await self._flowing.wait()
        if writer.transport.is_closing():
            self._writers.discard(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        loop = asyncio.get_running_loop()
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = loop.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                await self._flowing.wait()
                if dst.transport.is_closing():
                    break
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(dst)
            dst.transport.abort()


@pytest.fixture
async def pg_proxy() -> AsyncIterator[TcpProxy]:
    """A stoppable TCP proxy in front of the test PostgreSQL server."""
    proxy = TcpProxy(("127.0.0.1", 5432))
    await proxy.start()
    yield proxy
    await proxy.stop()


def proxied(dsn: str, proxy: TcpProxy) -> str:
    """``dsn`` (on 127.0.0.1:5432) routed through ``proxy``."""
    return dsn.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
