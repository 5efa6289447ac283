"""Processes the harness starts: spawn, wait until they answer, read their RSS, stop them.

Only processes started here are ever signalled, by their own pid.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ROOT", "Proc", "spawn", "vmrss_kib"]

ROOT = Path(__file__).resolve().parents[1]


def vmrss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_kib(self) -> int:
        return vmrss_kib(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_http(self, url: str, timeout: float = 30.0, interval: float = 0.005) -> float:
        """Poll ``url`` until it answers 200; return seconds since spawn."""
        deadline = self.started + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.popen.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited ({self.popen.returncode}):\n{self.log()}"
                    )
                try:
                    if client.get(url).status_code == 200:
                        return time.monotonic() - self.started
                except httpx.HTTPError:
                    pass
                time.sleep(interval)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def spawn(name: str, args: list[str], log_path: Path) -> Proc:
    """Start ``python <args>`` in the project root (so ``bench`` and ``gateway`` import from
    this tree); it inherits the environment; output goes to ``log_path``."""
    with log_path.open("wb") as log:
        started = time.monotonic()
        popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Proc(name, popen, log_path, started)
