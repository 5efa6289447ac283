"""Drives Hermes Agent's own MCP client code, no LLM; runs INSIDE Hermes' virtualenv.

Started by :mod:`tests.support.hermes` as ``<hermes venv>/bin/python hermes_driver.py`` with
``HERMES_HOME`` pointing at a directory whose ``config.yaml`` holds the ``mcp_servers`` under
test. It imports nothing of labgate (Hermes has a ``gateway`` package of its own). Commands are
JSON lines on stdin, answers JSON lines on stdout:

    {"op": "discover"}                   -> {"tools": {name: schema}, "errors": {...}}
    {"op": "call", "tool": n, "args": a} -> {"text": <what the model is handed>, "breaker": {...}}
    {"op": "tools"}                      -> {"tools": [names registered now]}
    {"op": "quit"}                       -> {} and exit

``text`` is exactly the string Hermes' tool handler returns to its agent loop, which puts it in
the model's context; ``breaker`` is Hermes' consecutive-failure count per server.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def main() -> int:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # Hermes' own prints go to stderr

    from tools import mcp_tool
    from tools.registry import registry

    def mcp_names() -> list[str]:
        return sorted(n for n in registry.get_all_tool_names() if n.startswith("mcp__"))

    def answer(value: dict[str, Any]) -> None:
        protocol.write(json.dumps(value) + "\n")

    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "discover":
            names = mcp_tool.discover_mcp_tools()
            errors = dict(mcp_tool._server_connect_errors)
            answer({"tools": {n: registry.get_schema(n) for n in names}, "errors": errors})
        elif op == "call":
            text = registry.dispatch(command["tool"], command.get("args", {}))
            answer({"text": text, "breaker": dict(mcp_tool._server_error_counts)})
        elif op == "tools":
            answer({"tools": mcp_names()})
        elif op == "quit":
            mcp_tool.shutdown_mcp_servers()
            answer({})
            return 0
        else:
            answer({"error": f"unknown op {op}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
