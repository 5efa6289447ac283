"""declarative: thin read-only adapters for the rest of the lab, one YAML file per tool.

``CAPABILITY`` holds the examples shipped in ``examples/`` (Home Assistant, Frigate, Proxmox,
Gitea); an operator's own directory is loaded with :func:`load_declarative` (or a
:class:`DeclarativeStore`, which also reloads) when the registry is built.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from gateway.capability import Capability

from .client import DeclarativeClient
from .loader import DeclarativeError
from .schemas import DeclarativeConfig, DeclarativeScope, ToolDef
from .store import CAPABILITY_NAME, DeclarativeStore, StoreReload

__all__ = [
    "CAPABILITY",
    "CAPABILITY_NAME",
    "EXAMPLES",
    "DeclarativeClient",
    "DeclarativeConfig",
    "DeclarativeError",
    "DeclarativeScope",
    "DeclarativeStore",
    "StoreReload",
    "ToolDef",
    "load_declarative",
]

#: The tool files shipped with labgate (also the demo's tools).
EXAMPLES = Path(__file__).resolve().parent / "examples"


def load_declarative(directory: Path, upstream_names: Collection[str] | None) -> Capability:
    """The capability of the tool files in ``directory``; :class:`DeclarativeError` (with
    ``file:line``) when any file is invalid. ``upstream_names``: the configured upstreams
    every tool must name; ``None`` skips that check (sample mode)."""
    return DeclarativeStore(directory, upstream_names).capability


CAPABILITY = load_declarative(EXAMPLES, None)
