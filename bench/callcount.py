"""Python function calls per REST tool call, in process: a count that a loaded machine does not
blur (wall-clock figures are ``python -m bench``'s).

    PYTHONPATH=$PWD python -m bench.callcount [--calls 300]

Builds the gateway over the test capability (tests/support), dev tokens, a temporary journal,
then profiles ``POST /v1/tools/testcap_echo`` after a warm-up and prints calls per request and
the functions with the most own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import tempfile
from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.auth.dev import DevIssuer
from gateway.registry import Registry
from tests.support import testcap
from tests.support.gateway_app import FIXTURE_POLICIES, gateway_settings


async def measure(calls: int) -> pstats.Stats:
    tmp = Path(tempfile.mkdtemp(prefix="labgate-callcount-"))
    try:
        policies = tmp / "policies"
        shutil.copytree(FIXTURE_POLICIES, policies)
        settings = gateway_settings(tmp, policies)
        app = create_app(settings, registry=Registry([testcap.CAPABILITY]))
        token = DevIssuer.from_settings(settings.auth.dev).mint(
            "sub-hermes", client_id="hermes", groups=["agents"]
        )
        headers = {"Authorization": f"Bearer {token}"}
        profile = cProfile.Profile()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def one() -> None:
                    r = await client.post(
                        "/v1/tools/testcap_echo", json={"text": "x"}, headers=headers
                    )
                    assert r.status_code == 200, r.text

                for _ in range(100):
                    await one()
                profile.enable()
                for _ in range(calls):
                    await one()
                profile.disable()
        return pstats.Stats(profile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.callcount")
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    stats = asyncio.run(measure(args.calls))
    print(f"function calls per request: {stats.total_calls / args.calls:.1f}")  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
