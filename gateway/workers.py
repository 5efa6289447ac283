"""``labgate serve --workers N``: N gateway processes on one host, one listening socket.

The supervisor binds the agent listener once and starts N workers (``labgate serve --worker
I``) that inherit the socket; the kernel hands each connection to one of them. Each worker is
a replica of its own:

* its own journal and hash chain: ``audit.db`` becomes ``audit-w0.db``, ``audit-w1.db``, ...
  (``audit verify`` finds them all);
* its own replica id, ``<replica.id>-w<I>``, stamped in every audit record;
* its own operator listener on ``operator_listen.port + I`` (each one is scraped);
* one page-cursor key for all (``cursor_key_file``, or a random key the supervisor makes for
  this run in a private file), so a cursor handed out by one worker opens on another;
* limits, cache and status shared through Redis (``redis``; without it every limit and the
  cache hold per worker, and ``serve`` says so).

A worker that exits is started again after a second; SIGTERM or SIGINT stops them all.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gateway.settings import Settings, child_environment

__all__ = ["run_workers", "worker_journal", "worker_journals", "worker_settings"]

log = logging.getLogger("labgate.workers")

RESTART_DELAY = 1.0


def worker_journal(path: Path, index: int) -> Path:
    return path.with_name(f"{path.stem}-w{index}{path.suffix}")


def worker_journals(path: Path) -> list[Path]:
    """``path`` and the worker journals beside it that exist (``path`` alone when none)."""
    indexed = [
        (int(tail), p)
        for p in path.parent.glob(f"{path.stem}-w*{path.suffix}")
        if (tail := p.stem.rsplit("-w", 1)[1]).isdigit()
    ]
    found = [p for _, p in sorted(indexed)]
    if path.exists() or not found:
        return [path, *found]
    return found


def worker_settings(settings: Settings, index: int) -> Settings:
    """The settings of worker ``index``: its journal, replica id and operator port."""
    ops = settings.operator_listen
    port = ops.port + index if ops.port else 0
    return settings.model_copy(
        update={
            "journal_path": worker_journal(settings.journal_path, index),
            "replica": settings.replica.model_copy(
                update={"id": f"{settings.replica.resolved_id()}-w{index}"}
            ),
            "operator_listen": ops.model_copy(update={"port": port}),
        }
    )


def bind_listener(settings: Settings) -> socket.socket:
    """The agent listener's socket, bound and listening, inheritable by the workers."""
    host, port = settings.listen.host, settings.listen.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_workers(settings: Settings, workers: int, config: Path | None) -> int:
    """Supervise ``workers`` processes until SIGTERM or SIGINT; see the module docstring."""
    if settings.redis is None:
        log.warning(
            "serve --workers %d without redis: each worker keeps its own rate limits and cache",
            workers,
        )
    sock = bind_listener(settings)
    log.info("agent listener on %s:%d, %d workers", *sock.getsockname()[:2], workers)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with tempfile.TemporaryDirectory(prefix="labgate-workers-") as private:
        env = _shared_cursor_key(settings, Path(private))
        return _supervise(sock, workers, config, env, lambda: stopping)


def _shared_cursor_key(settings: Settings, private: Path) -> dict[str, str]:
    """The environment that gives every worker the same cursor key: ``cursor_key_file`` as
    configured, else a random key in a file only this user can read, gone when serve ends."""
    if settings.cursor_key_file is not None:
        return child_environment()
    path = private / "cursor.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return child_environment(cursor_key_file=str(path))


def _supervise(
    sock: socket.socket,
    workers: int,
    config: Path | None,
    env: dict[str, str],
    stopping: Callable[[], bool],
) -> int:
    procs = {i: _start(i, sock.fileno(), config, env) for i in range(workers)}
    try:
        while not stopping():
            time.sleep(0.2)
            for i, proc in list(procs.items()):
                if proc.poll() is not None and not stopping():
                    log.error("worker %d exited with %s; starting it again", i, proc.returncode)
                    time.sleep(RESTART_DELAY)
                    procs[i] = _start(i, sock.fileno(), config, env)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        sock.close()
    return 0


def _start(
    index: int, fd: int, config: Path | None, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "gateway.cli"]
    if config is not None:
        argv += ["--config", str(config)]
    argv += ["serve", "--worker", str(index), "--listen-fd", str(fd)]
    return subprocess.Popen(argv, pass_fds=(fd,), env=env)
