"""The operator listener: /healthz (alive), /readyz (ready to serve), /metrics (Prometheus).

It shares the agent app's Runtime but listens on its own port, so the agent VLAN never reaches
it when the two are bound to different interfaces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from gateway.app import Runtime

__all__ = ["create_operator_app", "readiness"]


async def readiness(rt: Runtime) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    ok = rt.ready
    checks["started"] = rt.ready
    if rt.policies is not None:
        store = rt.policies
        checks["policy"] = {
            "version": store.current.version,
            "last_error": store.last_error,
            "last_error_at": store.last_error_at.isoformat() if store.last_error_at else None,
            "reload_failures": store.reload_failures,
        }
        # The last good set stays in force, but an operator must see the refused edit.
        ok = ok and store.last_error is None
    for source in rt.registry.reloadable:
        checks.setdefault("tools", []).append({"last_error": source.last_error})
        ok = ok and source.last_error is None
    if rt.journal is not None:
        writable = await rt.journal.check()
        checks["journal"] = {"writable": writable}
        ok = ok and writable
    if rt.shipper is not None:
        checks["postgres"] = {"lag": rt.shipper.lag, "last_error": rt.shipper.last_error}
    if rt.upstreams is not None:
        checks["upstreams"] = rt.upstreams.breaker_states()
    return ok, checks


def create_operator_app(runtime: Runtime) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ok, checks = await readiness(runtime)
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    async def metrics(request: Request) -> Response:
        body, content_type = runtime.telemetry.render()
        return Response(body, media_type=content_type)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
