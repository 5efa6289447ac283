"""What the faces (REST, MCP, operator, well-known) may use of the runtime that serves them.

The faces depend on this protocol, never on :class:`gateway.runtime.Runtime` itself: the
runtime builds the faces' world, the faces only read it. Calls go through ``pipeline``
(``admit``, ``allowed_tools``, ``call``), which every face shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gateway.pipeline import Pipeline
    from gateway.registry import Registry
    from gateway.settings import Settings
    from gateway.telemetry import Telemetry

__all__ = ["GatewayPort"]


class GatewayPort(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry:
        """The capabilities and tools this process serves (MCP mounts, metadata routes)."""
        ...

    @property
    def telemetry(self) -> Telemetry: ...

    @property
    def pipeline(self) -> Pipeline:
        """Authentication, the tool list and the call: one path for every face."""
        ...

    @property
    def ready(self) -> bool:
        """Started and not stopping."""
        ...

    @property
    def resource_metadata_url(self) -> str:
        """The RFC 9728 metadata URL named in ``WWW-Authenticate``."""
        ...

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready to serve, and the checks behind the answer (``/readyz``)."""
        ...
