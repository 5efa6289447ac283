"""Run the agent listener and the operator listener in one process and one event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from functools import partial
from typing import Any

import uvicorn

from gateway.api.ops import create_operator_app
from gateway.app import create_app
from gateway.auth.dev import ensure_loopback
from gateway.edge import uvicorn_config
from gateway.errors import ConfigError
from gateway.logs import configure_logging
from gateway.policy.loader import load_policy_dir
from gateway.registry import Registry
from gateway.settings import Settings

__all__ = ["GC_THRESHOLD", "run", "serve"]

GC_THRESHOLD = 20_000

log = logging.getLogger("labgate")


def preflight(settings: Settings, registry: Registry) -> None:
    """Refuse to start, with a message naming the problem, before any socket is bound."""
    auth = settings.auth
    if auth.mode == "dev":
        ensure_loopback(settings.listen.host)
    elif getattr(auth, auth.mode) is None:
        raise ConfigError(
            f"auth.mode is {auth.mode!r} but auth.{auth.mode} is missing", key=f"auth.{auth.mode}"
        )
    load_policy_dir(settings.policy_dir, registry)  # PolicyError: file:line: message


def run(settings: Settings, listen_fd: int | None = None) -> int:
    """``serve`` on uvloop when it is installed (as uvicorn itself would choose), else on
    asyncio's own loop. uvicorn picks its loop only in ``Server.run``; labgate runs two servers
    in one loop, so it picks here."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(settings, listen_fd))
    return uvloop.run(serve(settings, listen_fd))


async def serve(settings: Settings, listen_fd: int | None = None) -> int:
    """Serve until stopped; ``listen_fd``: an agent socket already listening (a worker's)."""
    configure_logging(settings.log_level)
    app = create_app(settings)
    preflight(settings, app.state.runtime.registry)
    operator = create_operator_app(app.state.runtime)
    common: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
    }
    telemetry = app.state.runtime.telemetry
    agent_server = uvicorn.Server(
        uvicorn_config(
            app,
            settings.listen,
            on_refusal=partial(telemetry.record_edge_refusal, "agent"),
            **common,
        )
    )
    operator_server = uvicorn.Server(
        uvicorn_config(
            operator,
            settings.operator_listen,
            on_refusal=partial(telemetry.record_edge_refusal, "operator"),
            lifespan="off",
            **common,
        )
    )
    # Fewer, larger young-generation collections: a call allocates many short-lived objects
    # and the default threshold (700) collects every few calls. Measured in docs/performance.md.
    gc.set_threshold(GC_THRESHOLD, 20, 20)
    # The agent server owns the lifespan (and the Runtime); the operator server follows it.
    sockets = [socket.socket(fileno=listen_fd)] if listen_fd is not None else None
    agent = asyncio.ensure_future(agent_server.serve(sockets=sockets))
    ops = asyncio.ensure_future(operator_server.serve())
    done, _ = await asyncio.wait({agent, ops}, return_when=asyncio.FIRST_COMPLETED)
    agent_server.should_exit = operator_server.should_exit = True
    await asyncio.gather(agent, ops, return_exceptions=True)
    for task in done:
        exc = task.exception()
        if exc is not None:
            raise exc
    return 0 if agent_server.started else 1
