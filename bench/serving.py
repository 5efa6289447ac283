"""How the harness runs an ASGI app: uvicorn with the settings ``gateway/serve.py`` uses.

The baseline and the stub run under the same uvicorn settings as the gateway's agent listener
(one worker, no access log, no server header, no proxy headers, uvicorn's default loop, the
httptools protocol with the listener's edge bounds of ``gateway/edge.py``), so a ratio compares
application code, not server setups.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from gateway.edge import uvicorn_config
from gateway.settings import ListenSettings

__all__ = ["UVICORN_SETTINGS", "free_port", "run"]

#: Mirrors ``common`` in gateway/serve.py.
UVICORN_SETTINGS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "server_header": False,
    "proxy_headers": False,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run(app: Any, port: int, fd: int | None = None) -> None:
    """Serve ``app`` on ``127.0.0.1:port`` (or on the listening socket ``fd``, a worker's)
    until SIGTERM/SIGINT."""
    listen = ListenSettings(host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn_config(app, listen, **UVICORN_SETTINGS))
    server.run(sockets=[socket.socket(fileno=fd)] if fd is not None else None)
