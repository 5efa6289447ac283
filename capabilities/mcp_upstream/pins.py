"""Pinned tool definitions: what the operator accepted, kept beside the policy in Git.

``<pins_dir>/<server>.pins.json`` holds, per fronted tool, the upstream definition the
operator accepted (name, title, description, input and output schema, annotations) and the
SHA-256 of its canonical JSON. labgate builds the tool from the pin (never from what the
upstream says today), so ``labgate policy check`` knows every fronted tool without contacting
the upstream; a live definition whose digest differs from its pin is withdrawn.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import PolicyError

__all__ = [
    "MAX_PINS_BYTES",
    "Pin",
    "PinSet",
    "definition_digest",
    "load_pins",
    "pins_path",
    "write_pins",
]

MAX_PINS_BYTES = 4 * 1024 * 1024
SUFFIX = ".pins.json"
FORMAT = 1
_PINNED = ("name", "title", "description", "input_schema", "output_schema")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_digest(definition: dict[str, Any]) -> str:
    """SHA-256 over the pinned parts of an upstream tool definition (canonical JSON)."""
    pinned = {key: definition.get(key) for key in _PINNED}
    return hashlib.sha256(_canonical(pinned).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Pin:
    """One accepted upstream tool definition."""

    #: The labgate tool name (``<server>_<tool>``).
    tool: str
    #: The upstream's own tool name, sent in ``tools/call``.
    upstream_name: str
    title: str | None
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any] | None
    sha256: str

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.upstream_name,
            "title": self.title,
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "upstream_name": self.upstream_name,
            "title": self.title,
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "annotations": self.annotations,
            "sha256": self.sha256,
        }

    @classmethod
    def from_definition(
        cls, tool: str, definition: dict[str, Any], annotations: dict[str, Any] | None
    ) -> Pin:
        return cls(
            tool=tool,
            upstream_name=str(definition["name"]),
            title=definition.get("title"),
            description=str(definition.get("description") or ""),
            input_schema=dict(definition.get("input_schema") or {}),
            output_schema=definition.get("output_schema"),
            annotations=annotations,
            sha256=definition_digest(definition),
        )


@dataclass(frozen=True, slots=True)
class PinSet:
    """The pins of one server, by labgate tool name (empty when nothing is accepted yet)."""

    server: str
    tools: dict[str, Pin] = field(default_factory=dict)

    def by_upstream(self) -> dict[str, Pin]:
        return {p.upstream_name: p for p in self.tools.values()}


def pins_path(directory: Path, server: str) -> Path:
    return Path(directory) / f"{server}{SUFFIX}"


def _problem(path: Path, message: str) -> PolicyError:
    return PolicyError(message, file=str(path), line=1)


def _pin(path: Path, tool: str, raw: Any) -> Pin:
    if not isinstance(raw, dict):
        raise _problem(path, f"pin {tool}: not an object")
    try:
        pin = Pin(
            tool=tool,
            upstream_name=str(raw["upstream_name"]),
            title=raw.get("title"),
            description=str(raw.get("description") or ""),
            input_schema=dict(raw.get("input_schema") or {}),
            output_schema=raw.get("output_schema"),
            annotations=raw.get("annotations"),
            sha256=str(raw["sha256"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _problem(path, f"pin {tool}: missing or invalid {exc}") from None
    if definition_digest(pin.definition()) != pin.sha256:
        raise _problem(
            path, f"pin {tool}: sha256 does not match the pinned definition (edited by hand?)"
        )
    return pin


class _Duplicate(Exception):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique (json keeps the last of two silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(repr(key[:60]))
        out[key] = value
    return out


def load_pins(path: Path, server: str) -> PinSet:
    """The pins in ``path``; none when the file does not exist; :class:`PolicyError` when
    the file is unreadable, malformed, for another server, or a digest does not match."""
    if not path.exists():
        return PinSet(server)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _problem(path, f"cannot read pins: {exc.strerror}") from None
    if len(raw) > MAX_PINS_BYTES:
        raise _problem(path, f"pins file is larger than {MAX_PINS_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique)
    except _Duplicate as exc:
        raise _problem(path, f"key {exc} appears twice") from None
    except (UnicodeDecodeError, ValueError):
        raise _problem(path, "pins file is not valid UTF-8 JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _problem(path, f"pins file must be an object with format: {FORMAT}")
    if data.get("server") != server:
        raise _problem(path, f"pins are for server {data.get('server')!r}, not {server!r}")
    tools = data.get("tools")
    if not isinstance(tools, dict):
        raise _problem(path, "pins file has no tools object")
    return PinSet(server, {str(name): _pin(path, str(name), raw) for name, raw in tools.items()})


def write_pins(path: Path, pins: PinSet) -> None:
    """Write ``pins`` atomically (a reader sees the old file or the new one, never half)."""
    document = {
        "format": FORMAT,
        "server": pins.server,
        "tools": {name: pins.tools[name].to_json() for name in sorted(pins.tools)},
    }
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
