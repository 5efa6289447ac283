"""The only code of this capability that talks to upstreams: one GET per call.

Takes already-built (guarded) ``httpx.AsyncClient``s by upstream name; it never sees a secret
and never builds a URL from agent text (``request.py`` did that, segment by segment). Failures
are raised as the small exception types below; ``tools.py`` maps them to gateway errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from .request import Request
from .schemas import ToolDef

__all__ = ["DeclarativeClient", "Refused", "StatusMeaning", "Unusable"]

_INTERNAL_MAX = 200


class Unusable(Exception):
    """The upstream answered, but not with something this tool can use (internal text only)."""


class Refused(Exception):
    """The upstream refused our credentials (401/403/407)."""


class StatusMeaning(Exception):
    """A 4xx the tool definition gives a meaning to (``not_found``/``invalid_arguments``)."""

    def __init__(self, meaning: str, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.meaning = meaning
        self.status = status


class DeclarativeClient:
    """Upstream clients by name, as handed out by the gateway (or a test)."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient]) -> None:
        self._clients = dict(clients)

    def upstreams(self) -> tuple[str, ...]:
        return tuple(self._clients)

    async def fetch(self, defn: ToolDef, request: Request) -> Any:
        """GET the request on the tool's upstream; the parsed JSON body."""
        client = self._clients.get(defn.upstream)
        if client is None:
            raise LookupError(f"upstream {defn.upstream} was not set up")
        response = await client.get(
            request.path,
            params=list(request.params),
            headers={"Accept": "application/json"},
        )
        status = response.status_code
        if status in (401, 403, 407):
            raise Refused(f"HTTP {status}: credentials rejected")
        meaning = defn.response.statuses.get(status)
        if meaning is not None:
            raise StatusMeaning(meaning, status)
        if not 200 <= status < 300 or status == 204:
            raise Unusable(f"HTTP {status}: {_snippet(response.content)}")
        if len(response.content) > defn.response.max_bytes:
            raise Unusable(f"body of {len(response.content)} bytes over the tool's cap")
        ctype = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            raise Unusable(f"content-type {ctype[:60]!r} is not JSON")
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise Unusable("response is not valid JSON") from None


def _snippet(body: bytes) -> str:
    text = body[: _INTERNAL_MAX * 2].decode("utf-8", "replace")
    return json.dumps(text[:_INTERNAL_MAX])
