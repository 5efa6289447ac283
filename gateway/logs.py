"""Log lines: JSON for Promtail/Loki (one object per line), or a short human line on a terminal.

JSON is the format for services: whenever stderr is not a terminal (containers, systemd,
pipes). On a terminal (``labgate demo``, ``serve`` run by hand) lines read as
``12:04:11 info  labgate  policy loaded  version=3f9c2a7e41b0``. Never a secret either way.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["HumanFormatter", "JsonFormatter", "configure_logging"]

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with ANSI colour codes
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            payload["exc_type"] = record.exc_info[0].__name__
        return json.dumps(payload, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """``HH:MM:SS level logger  message  key=value ...`` (local time), for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extra = " ".join(
            f"{k}={v}"
            for k, v in vars(record).items()
            if k not in _RESERVED and not k.startswith("_")
        )
        line = f"{when} {record.levelname.lower():<7} {record.name}  {record.getMessage()}"
        if extra:
            line += f"  {extra}"
        if record.exc_info and record.exc_info[0] is not None:
            line += f"  ({record.exc_info[0].__name__})"
        return line


def configure_logging(level: str = "info", *, human: bool | None = None) -> None:
    """``human``: the terminal format; ``None`` chooses it when stderr is a terminal."""
    if human is None:
        human = sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(HumanFormatter() if human else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Audit lines are complete JSON objects already (gateway.audit.log): written as they are.
    audit = logging.getLogger("labgate.audit")
    raw = logging.StreamHandler(sys.stderr)
    raw.setFormatter(logging.Formatter("%(message)s"))
    audit.handlers[:] = [raw]
    audit.propagate = False
    audit.setLevel(logging.INFO)
    # httpx (and the MCP SDK's httpx2) log full URLs at INFO
    for noisy in ("uvicorn.access", "httpx", "httpcore", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
