"""Reading a directory of tool files: all or nothing, every problem located as file:line.

Only ``yaml.safe_load``-level parsing is used (``yaml.compose`` for the node tree that maps a
validation error back to its line). Duplicate keys, multi-document files, aliases, oversized
files and too many files are refused. Nothing here talks to the network.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.errors import PolicyError

from .schemas import ToolDef

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "DeclarativeError", "Definitions", "load_definitions"]

MAX_FILES = 200
MAX_FILE_BYTES = 64 * 1024
SUFFIX = ".yaml"
Loc = Sequence[int | str]


class DeclarativeError(PolicyError):
    """One or more invalid tool files; ``problems`` lists each as its own located error."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        problems: list[PolicyError] | None = None,
    ) -> None:
        super().__init__(message, file=file, line=line)
        self.problems = problems or [PolicyError(message, file=file, line=line)]


@dataclass(frozen=True, slots=True)
class Definitions:
    """A valid set of tool definitions, by tool name, with the file each came from."""

    tools: dict[str, ToolDef]
    files: dict[str, Path]


class _NoAliasLoader(yaml.SafeLoader):
    """Safe loader that refuses anchors/aliases (no alias bombs, no shared nodes)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def _line(root: yaml.Node | None, loc: Loc) -> int:
    node = root
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
    return line


def _duplicate_key(node: yaml.Node | None) -> tuple[str, int] | None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    return key.value, key.start_mark.line + 1
                seen.add(key.value)
            found = _duplicate_key(value)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found:
                return found
    return None


def _parse(path: Path) -> tuple[ToolDef | None, list[PolicyError]]:
    file = str(path)
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        return None, [PolicyError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file)]
    try:
        text = raw.decode("utf-8")
        root = yaml.compose(text, Loader=_NoAliasLoader)
        data = yaml.safe_load(text) if root is not None else None
    except UnicodeDecodeError:
        return None, [PolicyError("file is not UTF-8", file=file)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "invalid YAML"
        return None, [PolicyError(f"invalid YAML: {problem}", file=file, line=line)]
    dup = _duplicate_key(root)
    if dup:
        return None, [PolicyError(f"key {dup[0]!r} appears twice", file=file, line=dup[1])]
    if not isinstance(data, dict):
        return None, [PolicyError("the file must hold a mapping (key: value lines)", file=file)]
    try:
        return ToolDef.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [p for p in err["loc"] if isinstance(p, int | str)]
            where = ".".join(str(p) for p in loc)
            message = f"{where}: {err['msg']}" if where else str(err["msg"])
            problems.append(PolicyError(message, file=file, line=_line(root, loc)))
        return None, problems


def load_definitions(directory: Path, upstream_names: Collection[str] | None) -> Definitions:
    """Parse every ``*.yaml`` in ``directory``; any problem raises :class:`DeclarativeError`.

    ``upstream_names`` are the configured upstreams; ``None`` skips that check (sample mode).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DeclarativeError(f"tool directory {directory} does not exist")
    paths = sorted(
        p
        for p in directory.iterdir()
        if p.name.endswith(SUFFIX) and not p.name.startswith(".") and p.is_file()
    )
    if len(paths) > MAX_FILES:
        raise DeclarativeError(f"more than {MAX_FILES} tool files in {directory}")
    problems: list[PolicyError] = []
    tools: dict[str, ToolDef] = {}
    files: dict[str, Path] = {}
    for path in paths:
        try:
            defn, found = _parse(path)
        except OSError as exc:
            found, defn = [PolicyError(f"cannot read: {exc.strerror}", file=str(path))], None
        problems.extend(found)
        if defn is None:
            continue
        if defn.name in tools:
            problems.append(
                PolicyError(
                    f"tool {defn.name} is also defined in {files[defn.name].name}",
                    file=str(path),
                    line=1,
                )
            )
            continue
        if upstream_names is not None and defn.upstream not in upstream_names:
            problems.append(
                PolicyError(
                    f"upstream {defn.upstream!r} is not configured in upstreams:",
                    file=str(path),
                    line=1,
                )
            )
        tools[defn.name], files[defn.name] = defn, path
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DeclarativeError(
            first.message + more, file=first.file, line=first.line, problems=problems
        )
    if not tools:
        raise DeclarativeError(f"no tool files (*.yaml) in {directory}")
    return Definitions(tools, files)
