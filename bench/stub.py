"""The upstream stub (``python -m bench.stub PORT``): what the bench capability calls.

``GET /item/{key}?delay_ms=N`` answers a small JSON item after ``N`` ms and counts the request
per key; ``GET /count/{key}`` tells how many item requests that key received (the single-flight
figure). Counting lives in the app instance, never at module level.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.serving import run

__all__ = ["create_app"]


def create_app() -> Starlette:
    counts: Counter[str] = Counter()

    async def item(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        counts[key] += 1
        delay_ms = int(request.query_params.get("delay_ms", "0") or 0)
        if delay_ms > 0:
            await asyncio.sleep(min(delay_ms, 5000) / 1000)
        return JSONResponse({"key": key, "value": f"value of {key}", "served_by": "stub"})

    async def count(request: Request) -> JSONResponse:
        return JSONResponse({"count": counts[request.path_params["key"]]})

    return Starlette(
        routes=[
            Route("/item/{key}", item, methods=["GET"]),
            Route("/count/{key}", count, methods=["GET"]),
        ]
    )


if __name__ == "__main__":
    run(create_app(), int(sys.argv[1]))
