"""Driving wrk: a Lua script for the request, and a parser of wrk's report.

wrk (Debian package, ``bench/install_wrk.sh``) is a C load generator: one thread of it
saturates a one-worker Python server with a fraction of a core, so it is not the bottleneck.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WrkResult", "lua_script", "parse_duration", "parse_report", "run_wrk"]

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    non_2xx: int
    socket_errors: int
    #: Latency percentiles in milliseconds (50, 75, 90, 99) as wrk reports them.
    latency_ms: Mapping[str, float]

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.non_2xx == 0 and self.socket_errors == 0


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def lua_script(*, method: str, body: str | None, headers: Mapping[str, str]) -> str:
    """A wrk script sending one fixed request (method, body, headers) on every connection."""
    lines = [f"wrk.method = {_lua(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {_lua(body)}")
    for name, value in headers.items():
        lines.append(f"wrk.headers[{_lua(name)}] = {_lua(value)}")
    return "\n".join(lines) + "\n"


def parse_duration(text: str) -> float:
    """``"1.23ms"`` -> 1.23 (milliseconds)."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m[1]) * _UNITS[m[2]]


def parse_report(text: str) -> WrkResult:
    """Parse wrk's ``--latency`` report."""
    total = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", text)
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if total is None or rps is None:
        raise ValueError("not a wrk report:\n" + text[-2000:])
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    latency: dict[str, float] = {}
    dist = text.split("Latency Distribution", 1)
    if len(dist) == 2:
        for m in re.finditer(r"^\s+(\d+)%\s+([0-9.]+(?:us|ms|s|m))\s*$", dist[1], re.M):
            latency[m[1]] = parse_duration(m[2])
    return WrkResult(
        requests=int(total[1]),
        seconds=parse_duration(total[2] + total[3]) / 1000,
        rps=float(rps[1]),
        non_2xx=int(non2xx[1]) if non2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
        latency_ms=latency,
    )


def run_wrk(
    url: str,
    script: str,
    workdir: Path,
    *,
    threads: int = 1,
    connections: int = 16,
    seconds: float = 10.0,
) -> WrkResult:
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is missing: run bench/install_wrk.sh (make bench does)")
    path = workdir / "wrk.lua"
    path.write_text(script)
    done = subprocess.run(
        [
            exe,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(path),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    return parse_report(done.stdout)
