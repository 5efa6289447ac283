"""The operator listener: /healthz (alive), /readyz (ready to serve), /metrics (Prometheus).

It shares the agent app's runtime (through the faces' port) but listens on its own port, so the
agent VLAN never reaches it when the two are bound to different interfaces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from gateway.api.port import GatewayPort

__all__ = ["create_operator_app"]


def create_operator_app(port: GatewayPort) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ok, checks = await port.readiness()
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    async def metrics(request: Request) -> Response:
        body, content_type = port.telemetry.render()
        return Response(body, media_type=content_type)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
