"""Loopback ports for the servers tests start, and stopping the processes they start."""

from __future__ import annotations

import socket
import subprocess

__all__ = ["free_port", "stop_process"]


def free_port() -> int:
    """A loopback port that was free a moment ago (nothing listens on it now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not gone after ``timeout`` seconds; always reaped."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
