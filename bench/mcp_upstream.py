"""What fronting costs: one ``tools/call`` to an MCP server directly (the official SDK client)
against the same call through labgate (REST, in process: policy, audit, scrubbing, shaping).

    PYTHONPATH=$PWD python -m bench.mcp_upstream [--calls 200]

The server is ``tests/support/mcpservers/hostile.py`` over stdio (``weather``); labgate's
journal lives in a temporary directory. Prints the median and 90th percentile of each, in
milliseconds; on a shared machine compare the two, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.capabilities.mcp_upstream.support import (
    SERVERS,
    accept,
    gateway,
    python_server,
    settings_for,
    write_policies,
)

POLICY = (
    "capability: hostile\nrules:\n  - id: bench\n    who: {clients: [hermes]}\n"
    "    tools: [hostile_weather]\n"
)


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"{name:10} median {statistics.median(ordered):7.2f} ms   p90 {p90:7.2f} ms"


async def direct(calls: int) -> list[float]:
    server = StdioServerParameters(command=sys.executable, args=[str(SERVERS / "hostile.py")])
    out = []
    async with Client(server, cache=None) as client:
        for _ in range(calls + 20):
            started = time.perf_counter()
            await client.call_tool("weather", {"city": "Lyon"})
            out.append((time.perf_counter() - started) * 1000)
    return out[20:]


async def fronted(calls: int, tmp: Path) -> list[float]:
    policies = tmp / "policies"
    write_policies(policies, {"hostile": POLICY})
    settings = settings_for(tmp, policies, {"hostile": python_server("hostile.py")})
    code, out = await asyncio.to_thread(accept, settings, "hostile")
    if code != 0:
        raise SystemExit(out)
    samples = []
    async with gateway(settings) as lab:
        token = lab.token()
        for _ in range(calls + 20):
            started = time.perf_counter()
            r = await lab.rest(token, "hostile_weather", {"city": "Lyon"})
            samples.append((time.perf_counter() - started) * 1000)
            if r.status_code != 200:
                raise SystemExit(r.text)
    return samples[20:]


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(_summary("direct", await direct(calls)))
        print(_summary("fronted", await fronted(calls, Path(tmp))))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
