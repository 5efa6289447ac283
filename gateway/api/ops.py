"""The operator listener: /healthz (alive), /readyz (ready to serve), /metrics (Prometheus).

/readyz also tells, under ``checks.replica``, which replica this is, whether Redis answers,
what each limit does while it does not, and which policy version each replica enforces.

It shares the agent app's Runtime but listens on its own port, so the agent VLAN never reaches
it when the two are bound to different interfaces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.shared.limits import when_away

if TYPE_CHECKING:
    from gateway.app import Runtime

__all__ = ["create_operator_app", "readiness", "replica_status"]


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
    checks["replica"] = replica_status(rt)
    return ok, checks


def replica_status(rt: Runtime) -> dict[str, Any]:
    """This replica, Redis, what each limit does while Redis is away, and the peers' policy.

    Redis being away never makes the replica unready: only the limits that fail closed refuse
    calls, and taking every replica out of the proxy would refuse all of them."""
    out: dict[str, Any] = {"id": rt.replica}
    if rt.policies is not None:
        out["policy_version"] = rt.policies.current.version
    if rt.shared is None:
        out["redis"] = None
        return out
    out["redis"] = {"up": rt.shared.up, "last_error": rt.shared.last_error}
    if rt.policies is not None:
        out["limits_when_redis_away"] = when_away(rt.policies.current)
    if rt.limiter is not None:
        out["limit_fallbacks"] = dict(rt.limiter.fallbacks)
    if rt.peers is not None:
        out["peers"] = sorted(rt.peers.peers)
        out["policy_versions"] = rt.peers.versions
        out["policy_agree"] = rt.peers.agree
    return out


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
