"""The baseline: a bare Starlette JSON endpoint (``python -m bench.hello PORT [WORKERS]``).

With WORKERS, one socket and that many processes on it, as ``labgate serve --workers``
runs them (``gateway/workers.py``): the baseline of the two-worker figure.

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


def serve_workers(port: int, workers: int) -> None:
    """Bind once, run ``workers`` processes on the socket until SIGTERM."""
    import signal
    import subprocess

    from gateway.settings import ListenSettings, Settings
    from gateway.workers import bind_listener

    sock = bind_listener(Settings(listen=ListenSettings(host="127.0.0.1", port=port)))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.hello", str(port), "--fd", str(sock.fileno())],
            pass_fds=(sock.fileno(),),
        )
        for _ in range(workers)
    ]

    def stop(signum: int, frame: object) -> None:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    for proc in procs:
        proc.wait()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--fd":
        run(create_app(), int(sys.argv[1]), fd=int(sys.argv[3]))
    elif len(sys.argv) == 3:
        serve_workers(int(sys.argv[1]), int(sys.argv[2]))
    else:
        run(create_app(), int(sys.argv[1]))
