"""The baseline: a bare Starlette JSON endpoint (``python -m bench.hello PORT``).

``POST /hello`` reads the JSON body the gateway call sends and answers a small JSON object:
the least an HTTP JSON API can do under the same server settings.
"""

from __future__ import annotations

import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.serving import run

__all__ = ["create_app"]


async def hello(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"hello": body.get("key") if isinstance(body, dict) else None})


async def ready(request: Request) -> JSONResponse:
    return JSONResponse({"ready": True})


def create_app() -> Starlette:
    return Starlette(
        routes=[Route("/hello", hello, methods=["POST"]), Route("/ready", ready, methods=["GET"])]
    )


if __name__ == "__main__":
    run(create_app(), int(sys.argv[1]))
