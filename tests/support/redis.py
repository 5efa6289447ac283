"""A real ``redis-server`` for tests, on a free loopback port (never the system service).

    with RedisServer() as server:     # started, answering PING
        server.url                    # redis://127.0.0.1:<port>/0
        server.kill()                 # SIGKILL: Redis is away (connections refused)
        server.start()                # again, on the same port, empty

Installed by ``tests/support/install_replicas.sh``. Register the ``redis_server`` fixture with
``pytest_plugins = ["tests.support.redis"]`` (tests/conftest.py does).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from types import TracebackType

import pytest

from tests.support.net import free_port, stop_process

__all__ = ["RedisServer", "redis_server"]


#: Loopback only, nothing written to disk.
_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes")


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is missing: run tests/support/install_replicas.sh")
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, *_OPTIONS, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server
